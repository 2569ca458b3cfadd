/**
 * All handlers by spec name. A unit test checks that every spec in the table has exactly one handler.
 */
import type { HandlerMap } from './registry';
import { handlers as replication } from './replication';
import { handlers as strings } from './strings';
import { handlers as keys } from './keys';
import { handlers as lists } from './lists';
import { handlers as hashes } from './hashes';
import { handlers as sets } from './sets';
import { handlers as zsets } from './zsets';
import { handlers as hyperloglog } from './hyperloglog';
import { handlers as bitmaps } from './bitmaps';
import { handlers as pubsub } from './pubsub';
import { handlers as transactions } from './transactions';
import { handlers as connection } from './connection';
import { handlers as server } from './server';
import { handlers as cluster } from './cluster';
import { handlers as migrate } from './migrate';
import { handlers as clusterscan } from './clusterscan';
import { handlers as scripting } from './scripting';

export const HANDLERS: HandlerMap = Object.assign(
  Object.create(null) as HandlerMap,
  replication,
  strings,
  keys,
  lists,
  hashes,
  sets,
  zsets,
  hyperloglog,
  bitmaps,
  pubsub,
  transactions,
  connection,
  server,
  cluster,
  migrate,
  clusterscan,
  scripting,
);
