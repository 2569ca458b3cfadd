/**
 * Gateway token rules without a cluster: pattern containment for key- and channel-restricted tokens,
 * roles decided from the command table, the token file parser and the rate limit bucket.
 */
import { describe, expect, it } from 'vitest';
import { lookupCommand } from '../../common/src/commands/table';
import { Auth, parseTokenFile, patternWithin, presentedToken } from '../../gateway/src/auth';
import { GatewayError } from '../../gateway/src/errors';

function status(f: () => void): number | 'ok' {
  try {
    f();
    return 'ok';
  } catch (e) {
    if (e instanceof GatewayError) return e.status;
    throw e;
  }
}

describe('patternWithin', () => {
  it.each([
    ['user:*', 'user:*', true],
    ['user:*', 'user:1', true],
    ['user:*', 'user:1*', true],
    ['user:*', 'user:[ab]?', true],
    ['user:*', 'u*', false],
    ['user:*', '*', false],
    ['user:*', 'admin:1', false],
    ['user:?', 'user:1', true],
    ['user:?', 'user:*', false], // "user:*" as text matches user:?, but reaches user:abc
    ['user:?', 'user:?', true],
    ['chat:[ab]*', 'chat:a*', false], // conservative: only literal prefixes are compared
    ['*', 'anything*', true],
  ])('allowed %s, requested %s -> %s', (allowed, requested, want) => {
    expect(patternWithin(allowed, requested)).toBe(want);
  });
});

describe('Auth', () => {
  const auth = new Auth(
    parseTokenFile(
      JSON.stringify({
        tokens: [
          { token: 'read-only-token', role: 'read-only' },
          { token: 'restricted-token', name: 'r', keys: ['user:*'], channels: ['chat:?'], dbs: [0, 2], rateLimit: { perSecond: 0.001, burst: 2 } },
        ],
      }),
    ),
  );
  const check = (token: string, argv: string[]): number | 'ok' => status(() => Auth.authorize(auth.authenticate(token), lookupCommand(argv)!, argv, false));

  it('401 for a missing or unknown token', () => {
    expect(status(() => auth.authenticate(undefined))).toBe(401);
    expect(status(() => auth.authenticate('nope'))).toBe(401);
    expect(status(() => auth.authenticate('read-only-token'))).toBe('ok');
  });

  it('scripts: read-only tokens run only EVAL_RO/EVALSHA_RO and SCRIPT EXISTS; key-restricted tokens run none', () => {
    const sha = 'a'.repeat(40);
    for (const argv of [['EVAL_RO', 'return 1', '0'], ['EVALSHA_RO', sha, '0'], ['SCRIPT', 'EXISTS', sha]]) expect(check('read-only-token', argv), argv.join(' ')).toBe('ok');
    for (const argv of [['EVAL', 'return 1', '0'], ['EVALSHA', sha, '0'], ['SCRIPT', 'LOAD', 'return 1']]) expect(check('read-only-token', argv), argv.join(' ')).toBe(403);
    for (const argv of [['EVAL', 'return 1', '1', 'user:1'], ['EVAL_RO', 'return 1', '0'], ['EVALSHA', sha, '1', 'user:1']]) expect(check('restricted-token', argv), argv.join(' ')).toBe(403);
    expect(check('restricted-token', ['SCRIPT', 'EXISTS', sha])).toBe('ok');
  });

  it('read-only: reads from the command table flags only', () => {
    for (const argv of [['GET', 'a'], ['MGET', 'a', 'b'], ['ZRANGE', 'z', '0', '-1'], ['PING'], ['SCAN', '0']]) expect(check('read-only-token', argv), argv[0]).toBe('ok');
    for (const argv of [['SET', 'a', 'b'], ['DEL', 'a'], ['PUBLISH', 'c', 'm'], ['FLUSHDB'], ['CONFIG', 'SET', 'x', 'y']]) expect(check('read-only-token', argv), argv[0]).toBe(403);
  });

  it('key and channel patterns; dbs', () => {
    expect(check('restricted-token', ['SET', 'user:1', 'x'])).toBe('ok');
    expect(check('restricted-token', ['RENAME', 'user:1', 'other'])).toBe(403);
    expect(check('restricted-token', ['SCAN', '0', 'MATCH', 'user:1*'])).toBe('ok');
    expect(check('restricted-token', ['SCAN', '0', 'MATCH', '*'])).toBe(403);
    expect(check('restricted-token', ['PUBLISH', 'chat:1', 'm'])).toBe('ok');
    expect(check('restricted-token', ['PUBLISH', 'chat:12', 'm'])).toBe(403);
    expect(check('restricted-token', ['SUBSCRIBE', 'chat:1', 'chat:2'])).toBe('ok');
    expect(check('restricted-token', ['PSUBSCRIBE', 'chat:?'])).toBe('ok');
    expect(check('restricted-token', ['PSUBSCRIBE', 'chat:*'])).toBe(403);
    const p = auth.authenticate('restricted-token');
    expect(status(() => Auth.checkDb(p, 2))).toBe('ok');
    expect(status(() => Auth.checkDb(p, 1))).toBe(403);
  });

  it('rate limit: a bucket of `burst` requests, then 429', () => {
    const p = auth.authenticate('restricted-token');
    expect(status(() => Auth.rateLimit(p))).toBe('ok');
    expect(status(() => Auth.rateLimit(p))).toBe('ok');
    expect(status(() => Auth.rateLimit(p))).toBe(429);
  });

  it('token file errors are explicit', () => {
    expect(() => parseTokenFile('{')).toThrow(/not valid JSON/);
    expect(() => parseTokenFile('{"tokens":[{"token":"short"}]}')).toThrow(/at least 8 characters/);
    expect(() => parseTokenFile('{"tokens":[{"token":"long-enough","role":"root"}]}')).toThrow(/role must be one of/);
    expect(() => parseTokenFile('{"tokens":[{"token":"long-enough","dbs":[-1]}]}')).toThrow(/dbs must be/);
    expect(() => parseTokenFile('{"tokens":[{"token":"long-enough","rateLimit":{"perSecond":1,"scope":"node"}}]}')).toThrow(/scope must be "cluster" or "process"/);
    expect(() => parseTokenFile('{"tokens":[{"token":"long-enough","rateLimit":{"perSecond":1,"burst":0}}]}')).toThrow(/burst must be >= 1/);
  });
});

describe('presentedToken (every front end reads the token with it)', () => {
  it('takes a Bearer header, else one ?_token=', () => {
    expect(presentedToken('Bearer  abc ', '/get/k')).toBe('abc');
    expect(presentedToken('bearer abc', '/get/k?_token=other')).toBe('abc');
    // A header of another scheme presents no token, even with ?_token= in the URL.
    expect(presentedToken('Basic abc', '/get/k?_token=t')).toBeUndefined();
    expect(presentedToken(['Bearer a', 'Bearer b'], '/get/k')).toBeUndefined();
    expect(presentedToken(undefined, '/ws?x=1&_token=t%2Bu')).toBe('t+u');
    expect(presentedToken('', '/get/k?_token=t')).toBe('t');
    // Given twice, ambiguous: none.
    expect(presentedToken(undefined, '/get/k?_token=a&_token=b')).toBeUndefined();
    expect(presentedToken(undefined, '/get/k')).toBeUndefined();
  });
});
