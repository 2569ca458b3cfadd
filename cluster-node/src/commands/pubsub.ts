/** Command handlers: pubsub family (specs in common/src/commands/specs/pubsub.ts). */
import type { HandlerMap } from './registry';
import type { Client } from '../server/client';
import type { SubKind } from '../server/pubsub';
import { globMatch } from '../../../common/src/glob';

const NAMES: Record<SubKind, [string, string]> = {
  channel: ['subscribe', 'unsubscribe'],
  pattern: ['psubscribe', 'punsubscribe'],
  shard: ['ssubscribe', 'sunsubscribe'],
};

/** Confirmation push: [kind, name|nil, count]. Shard counts only shard channels, like Redis. */
function confirm(c: Client, what: string, name: string | null, kind: SubKind): void {
  const w = c.w;
  w.push(3);
  w.bulk(what);
  if (name === null) w.nil();
  else w.bulk(name);
  w.int(kind === 'shard' ? c.shardChannels.size : c.channels.size + c.patterns.size);
}

function subscribe(kind: SubKind) {
  return (c: Client, argv: string[]) => {
    const ps = c.server.pubsub;
    for (let i = 1; i < argv.length; i++) {
      ps.subscribe(c, kind, argv[i]);
      confirm(c, NAMES[kind][0], argv[i], kind);
    }
  };
}

function unsubscribe(kind: SubKind) {
  return (c: Client, argv: string[]) => {
    const ps = c.server.pubsub;
    const mine = kind === 'channel' ? c.channels : kind === 'pattern' ? c.patterns : c.shardChannels;
    const names = argv.length > 1 ? argv.slice(1) : [...mine];
    if (names.length === 0) {
      confirm(c, NAMES[kind][1], null, kind);
      return;
    }
    for (const n of names) {
      ps.unsubscribe(c, kind, n);
      confirm(c, NAMES[kind][1], n, kind);
    }
  };
}

function listChannels(c: Client, m: Map<string, Set<Client>>, pattern: string | undefined): void {
  const out: string[] = [];
  for (const ch of m.keys()) if (pattern === undefined || globMatch(pattern, ch)) out.push(ch);
  c.w.bulkArray(out);
}

function numsub(c: Client, m: Map<string, Set<Client>>, names: string[]): void {
  c.w.map(names.length);
  for (const n of names) {
    c.w.bulk(n);
    c.w.int(m.get(n)?.size ?? 0);
  }
}

export const handlers: HandlerMap = {
  subscribe: subscribe('channel'),
  psubscribe: subscribe('pattern'),
  ssubscribe: subscribe('shard'),
  unsubscribe: unsubscribe('channel'),
  punsubscribe: unsubscribe('pattern'),
  sunsubscribe: unsubscribe('shard'),

  publish(c, argv) {
    c.w.int(c.server.pubsub.publish(argv[1], argv[2]));
  },

  spublish(c, argv) {
    c.w.int(c.server.pubsub.publishShard(argv[1], argv[2]));
  },

  'pubsub|channels'(c, argv) {
    listChannels(c, c.server.pubsub.channels, argv[2]);
  },

  'pubsub|shardchannels'(c, argv) {
    listChannels(c, c.server.pubsub.shardChannels, argv[2]);
  },

  'pubsub|numsub'(c, argv) {
    numsub(c, c.server.pubsub.channels, argv.slice(2));
  },

  'pubsub|shardnumsub'(c, argv) {
    numsub(c, c.server.pubsub.shardChannels, argv.slice(2));
  },

  'pubsub|numpat'(c) {
    c.w.int(c.server.pubsub.patterns.size);
  },

  'pubsub|help'(c) {
    c.w.bulkArray([
      'PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:',
      'CHANNELS [<pattern>]',
      "    Return the currently active channels matching a <pattern> (default: '*').",
      'NUMPAT',
      '    Return number of subscriptions to patterns.',
      'NUMSUB [<channel> ...]',
      '    Return the number of subscribers for the specified channels, excluding',
      '    pattern subscriptions(default: no channels).',
      'SHARDCHANNELS [<pattern>]',
      '    Return the currently active shard level channels matching a <pattern> (default: \'*\').',
      'SHARDNUMSUB [<shardchannel> ...]',
      '    Return the number of subscribers for the specified shard level channel(s)',
      'HELP',
      '    Print this help.',
    ]);
  },
};
