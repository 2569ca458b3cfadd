/**
 * The cluster config file (`cluster-config-file`, default nodes.conf under `dir`): the node's identity
 * and its durable Raft state (hard state, snapshot, log). Written atomically (temp file, fsync,
 * rename, fsync of the directory) before any message that depends on it is sent, as Raft requires.
 * The configuration itself is not stored separately: it is the snapshot plus the committed log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { MemoryStorage, type Entry, type HardState, type Snapshot } from '../raft';

interface NodeFileData {
  format: 'cluster-node/1';
  myId: string;
  myShardId: string;
  raft: { hardState: HardState; snapshot: Snapshot; entries: Entry[] };
}

export interface NodeIdentity {
  myId: string;
  myShardId: string;
  storage: MemoryStorage;
}

export function loadNodeFile(file: string): NodeIdentity | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const data = JSON.parse(text) as NodeFileData;
  if (data.format !== 'cluster-node/1' || !/^[0-9a-f]{40}$/.test(data.myId)) {
    throw new Error(`${file} is not a cluster-node config file`);
  }
  const storage = new MemoryStorage();
  if (data.raft.snapshot.meta.index > 0) storage.applySnapshot(data.raft.snapshot);
  storage.append(data.raft.entries);
  storage.setHardState(data.raft.hardState);
  return { myId: data.myId, myShardId: data.myShardId, storage };
}

export function saveNodeFile(file: string, id: NodeIdentity): void {
  const s = id.storage;
  const first = s.firstIndex();
  const last = s.lastIndex();
  const data: NodeFileData = {
    format: 'cluster-node/1',
    myId: id.myId,
    myShardId: id.myShardId,
    raft: { hardState: s.hardState(), snapshot: s.snapshot(), entries: last >= first ? s.entries(first, last + 1) : [] },
  };
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, JSON.stringify(data));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, file);
  try {
    const dfd = fs.openSync(path.dirname(file), 'r');
    fs.fsyncSync(dfd);
    fs.closeSync(dfd);
  } catch {
    // Directory fsync is not supported everywhere; the rename is still atomic.
  }
}
