/**
 * The gateway's reply-shape table (gateway/src/rest/reply-shape.ts) names only commands the engine has,
 * and shapes depend on options, not on keys or members that happen to spell an option.
 */
import { describe, expect, it } from 'vitest';
import { COMMANDS } from '../../common/src/commands/table';
import { SHAPED_COMMANDS, replyShape } from '../../gateway/src/rest/reply-shape';

describe('reply shapes', () => {
  it('every command the table shapes is in the command table', () => {
    const missing = SHAPED_COMMANDS.filter((n) => {
      const [name, sub] = n.split('|') as [string, string | undefined];
      const spec = COMMANDS.get(name);
      return !spec || (sub !== undefined && !spec.subcommands?.has(sub));
    });
    expect(missing).toEqual([]);
  });

  it('options decide, not argument values', () => {
    expect(replyShape(['SET', 'k', 'v'], 2)).toBe('status');
    expect(replyShape(['SET', 'k', 'v', 'EX', '10', 'GET'], 2)).toBeUndefined();
    expect(replyShape(['SET', 'get', 'get'], 2)).toBe('status');
    expect(replyShape(['ZADD', 'z', 'NX', 'INCR', '1', 'm'], 3)).toBe('double');
    expect(replyShape(['ZADD', 'z', '1', 'incr'], 3)).toBeUndefined();
    expect(replyShape(['ZUNION', '2', 'withscores', 'b'], 3)).toBeUndefined();
    expect(replyShape(['ZUNION', '2', 'a', 'b', 'WITHSCORES'], 3)).toBe('scored');
    expect(replyShape(['ZPOPMIN', 'z'], 3)).toBe('scored-flat');
    expect(replyShape(['ZPOPMIN', 'z', '2'], 3)).toBe('scored');
    // RESP2 keeps only simple strings apart: the rest is RESP2's own shape.
    expect(replyShape(['HGETALL', 'h'], 2)).toBeUndefined();
    expect(replyShape(['HGETALL', 'h'], 3)).toBe('map');
  });
});
