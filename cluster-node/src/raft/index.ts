/**
 * Public surface of the Raft module: a pure consensus state machine (see raft-node.ts) and its storage.
 */
export { RaftNode } from './raft-node';
export type { RaftConfig } from './raft-node';
export {
  MemoryStorage,
  persistReady,
  bootstrapEntry,
  EMPTY_CONF_STATE,
  EMPTY_HARD_STATE,
  EMPTY_SNAPSHOT,
} from './storage';
export type { RaftStorage, WritableRaftStorage } from './storage';
export { applyConfChange, confChangeError, decodeConfChange, quorumIndex, quorumSize } from './conf';
export { encodeEntryData, entryBytes } from './encoding';
export type * from './types';
