/** C printf's `%.<precision>g` for doubles, as Redis formats Lua numbers (`%.17g` for command arguments, `%.14g` in cjson) and DEBUG DIGEST sorted-set scores (`%.17g`). */
export function formatG(v: number, precision: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  if (v === 0) return Object.is(v, -0) ? '-0' : '0';
  const p = Math.max(1, precision);
  const expForm = v.toExponential(p - 1); // rounds to p significant digits
  const ePos = expForm.indexOf('e');
  const exp = Number(expForm.slice(ePos + 1));
  if (exp < -4 || exp >= p) {
    let mant = expForm.slice(0, ePos);
    if (mant.includes('.')) mant = mant.replace(/0+$/, '').replace(/\.$/, '');
    const ae = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${ae < 10 ? '0' : ''}${ae}`;
  }
  let fixed = v.toFixed(Math.max(0, p - 1 - exp));
  if (fixed.includes('.')) fixed = fixed.replace(/0+$/, '').replace(/\.$/, '');
  return fixed;
}
