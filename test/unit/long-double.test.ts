/**
 * The x87 long double emulation behind INCRBYFLOAT: strtold-like parsing, correctly rounded
 * addition and Redis's "%.17Lf"-then-trim formatting. Expected strings were produced by redis-server
 * 7.0 on x86-64 (INCRBYFLOAT on a missing key, or SET then INCRBYFLOAT by 0).
 */
import { describe, expect, it } from 'vitest';
import { addLongDouble, formatLongDouble, parseLongDouble } from '../../cluster-node/src/commands/long-double';

function incr(cur: string | null, by: string): string | null {
  const a = cur === null ? { neg: false, m: 0n, e: 0 } : parseLongDouble(cur);
  const b = parseLongDouble(by);
  if (a === null || b === null) return 'invalid';
  const r = addLongDouble(a, b);
  return r === null ? null : formatLongDouble(r);
}

describe('long double INCRBYFLOAT arithmetic', () => {
  it('formats like Redis', () => {
    expect(incr('1', '0.1')).toBe('1.1');
    expect(incr('1.1', '0.2')).toBe('1.3');
    expect(incr(null, '10.5')).toBe('10.5');
    expect(incr(null, '1.23456789012345678901')).toBe('1.23456789012345679');
    expect(incr(null, '-0.00000000000000001')).toBe('-0.00000000000000001');
    expect(incr(null, '-0.000000000000000001')).toBe('0');
    expect(incr(null, '1e-20')).toBe('0');
    expect(incr(null, '1e30')).toBe('1000000000000000000024696061952');
    expect(incr(null, '1e20')).toBe('100000000000000000000');
    expect(incr(null, '0x10')).toBe('16');
    expect(incr('5.0e3', '0')).toBe('5000');
    expect(incr('3', '-3')).toBe('0');
    expect(incr('-1', '0.5')).toBe('-0.5');
  });

  it('rounds exact ties to even when printing 17 decimals', () => {
    expect(incr(null, '1.000003814697265625')).toBe('1.00000381469726562');
    expect(incr(null, '0.000011444091796875')).toBe('0.00001144409179688');
  });

  it('has the x87 range: beyond double, not beyond long double', () => {
    expect(incr(null, '1e400')).toMatch(/^10000000000000000000281880683947586514586453433629052038625910693539685534008629862039363994848324160522094053927317616200295822777259255734023828976593340661017797447434546173917862448116674971723778943824391593338047470675026246684401359237513603830343735485505244955964979021825038280091068414947402456898653040951017512658092615827588920183472511643316591362664138176309734806343732497430221946880$/);
    expect(incr('1e308', '1e308')).toMatch(/^19999999999999999999/);
    expect(incr(null, '1e4932')).not.toBeNull();
    expect(incr(null, '1.2e4932')).toBe('invalid'); // strtold overflow (ERANGE)
    expect(incr(null, '1e5000')).toBe('invalid');
    expect(incr(null, '1e-5000')).toBe('invalid'); // underflow to zero (ERANGE)
    expect(incr(null, '0e-5000')).toBe('0');
    expect(incr(null, '5e-4951')).toBe('0'); // a subnormal is accepted
    expect(incr('1.1e4932', '1.1e4932')).toBeNull(); // sum overflows: NaN or Infinity error
  });

  it('parses like strtold: no spaces, no NaN, inf is a value', () => {
    for (const bad of ['', ' 1', '1 ', 'abc', '1e', '1e+', 'e1', '.', '-', '0x', '0xg', 'nan', 'NaN', '1_0', '1,5']) {
      expect(parseLongDouble(bad), JSON.stringify(bad)).toBeNull();
    }
    for (const ok of ['1.', '.5', '-.5', '+.5', '00001.50000', '1E2', '1e+2', '0X1P+3', '0x.8', '0x1p-60']) {
      expect(parseLongDouble(ok), ok).not.toBeNull();
    }
    expect(parseLongDouble('inf')?.inf).toBe(true);
    expect(parseLongDouble('-Infinity')?.inf).toBe(true);
    expect(incr(null, 'inf')).toBeNull();
    expect(parseLongDouble('1'.repeat(5120))).toBeNull(); // longer than Redis's buffer
  });
});
