/**
 * JSON.parse for what a wrapper reports, never changing the value of an integer.
 *
 * The wrappers send integers that a double cannot hold as their decimal digits, a string (Python
 * ints beyond ±(2**53-1), as a JavaScript BigInt is sent). This applies the same rule on the host to
 * any that still arrive as bare numbers (a wrapper of an older release, an interpreter whose JSON
 * encoder we do not control), where JSON.parse would turn 2**53 + 1 into 2**53 and 10**400 into
 * Infinity. The rule is the Python runner's: an integer stays a number when the double nearest to it
 * prints as the same significant digits (any JSON reader then shows it unchanged: 2**53, 10**20,
 * 10**22), and becomes a string otherwise. A JavaScript number always prints back the same, so no
 * double turns into a string. Ordinary
 * results take the plain path: the text is only looked at when it holds a run of 16 digits.
 */

const LONG_DIGITS = /\d{16}/;
// A string token (skipped whole, so digits inside strings are never touched) or an integer token
// (not the digits of a fraction or an exponent).
const TOKENS = /"(?:[^"\\]|\\.)*"|(?<![\d.eE+-])-?\d{16,}(?![\d.eE])/g;

export function parseExactJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  return JSON.parse(text.replace(TOKENS, (token) => (token.startsWith('"') || readsBack(token) ? token : `"${token}"`)));
}

/** Whether the double nearest to an integer token prints as the same significant digits. */
function readsBack(token: string): boolean {
  const shortest = String(Number(token));
  return /^-?[\d.]+(e\+\d+)?$/.test(shortest) && significant(shortest.split("e")[0]!) === significant(token);
}

const significant = (digits: string) => digits.replace(/[-.]/g, "").replace(/0+$/, "");
