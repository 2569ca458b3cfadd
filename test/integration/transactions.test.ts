import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Redis from 'ioredis';
import { startNode, rawExchange, type NodeHandle } from '../helpers/node';

describe('MULTI/EXEC/WATCH', () => {
  let node: NodeHandle;
  let a: Redis;
  let b: Redis;
  beforeAll(async () => {
    node = await startNode();
    a = new Redis({ port: node.port, enableReadyCheck: false });
    b = new Redis({ port: node.port, enableReadyCheck: false });
  });
  afterAll(() => {
    a.disconnect();
    b.disconnect();
  });

  it('runs queued commands atomically and returns every reply', async () => {
    const res = await a.multi().set('t1', 'a').get('t1').set('t2', 'b').exec();
    expect(res).toEqual([
      [null, 'OK'],
      [null, 'a'],
      [null, 'OK'],
    ]);
  });

  it('EXECABORT when a queued command was rejected, nothing runs', async () => {
    const { reply } = await rawExchange(node.port, 'MULTI\r\nSET ab 1\r\nNOSUCH\r\nGET\r\nEXEC\r\nGET ab\r\n');
    expect(reply).toBe(
      "+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n" +
        "-ERR wrong number of arguments for 'get' command\r\n" +
        '-EXECABORT Transaction discarded because of previous errors.\r\n$-1\r\n',
    );
  });

  it('runtime errors inside EXEC do not stop the other commands', async () => {
    await a.del('str');
    await a.set('str', 'x');
    const { reply } = await rawExchange(node.port, 'MULTI\r\nSET q 1\r\nLPUSH str a\r\nSET q 2\r\nEXEC\r\nGET q\r\n');
    // LPUSH on a string is a runtime error (WRONGTYPE) only if lists are implemented; the rest must run.
    expect(reply.startsWith('+OK\r\n+QUEUED\r\n')).toBe(true);
    expect(reply.endsWith('$1\r\n2\r\n')).toBe(true);
  });

  it('nesting, EXEC/DISCARD without MULTI, WATCH inside MULTI', async () => {
    const { reply } = await rawExchange(node.port, 'EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH x\r\nDISCARD\r\n');
    expect(reply).toBe(
      '-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n',
    );
  });

  it('WATCH aborts EXEC when another client changes the key', async () => {
    await a.set('w', '1');
    await a.watch('w');
    await b.set('w', '2');
    expect(await a.multi().set('w', '3').exec()).toBeNull();
    expect(await a.get('w')).toBe('2');
  });

  it('WATCH does not abort when nothing changed, and UNWATCH forgets', async () => {
    await a.watch('w');
    expect(await a.multi().set('w', 'mine').exec()).toEqual([[null, 'OK']]);
    await a.watch('w');
    await b.set('w', 'theirs');
    await a.unwatch();
    expect(await a.multi().get('w').exec()).toEqual([[null, 'theirs']]);
  });

  it('WATCH aborts when the key expires meanwhile, and after FLUSHALL', async () => {
    await a.set('we', '1', 'PX', 50);
    await a.watch('we');
    await new Promise((r) => setTimeout(r, 120));
    expect(await a.multi().get('we').exec()).toBeNull();
    await a.set('wf', '1');
    await a.watch('wf');
    await b.flushall();
    expect(await a.multi().get('wf').exec()).toBeNull();
  });
});
