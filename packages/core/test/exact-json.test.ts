import { describe, expect, it } from "vitest";
import { parseExactJson } from "../src/exact-json.js";

describe("parseExactJson", () => {
  it("keeps integers a double cannot hold as their exact digits", () => {
    const text = `{"output": [18446744073709551617, 9007199254740993, -9223372036854775809, 1${"0".repeat(400)}]}`;
    expect(parseExactJson(text)).toEqual({ output: ["18446744073709551617", "9007199254740993", "-9223372036854775809", `1${"0".repeat(400)}`] });
  });

  it("keeps integers that read back unchanged as numbers, as the Python runner sends them", () => {
    const text = `[9007199254740992, 100000000000000000000, 10000000000000000000000, 1${"0".repeat(300)}, 18446744073709552000]`;
    expect(parseExactJson(text)).toEqual([2 ** 53, 1e20, 1e22, 1e300, 2 ** 64]);
  });

  it("leaves every JavaScript number a number, as JSON.stringify printed it", () => {
    const values = [2 ** 64, 2 ** 53 + 2, 1e20, -(2 ** 60), Number.MAX_SAFE_INTEGER, Number("0.1234567890123456789"), 1.5e-300, Number("12345678901234567e10")];
    const text = JSON.stringify({ output: values });
    expect(parseExactJson(text)).toEqual(JSON.parse(text));
  });

  it("never touches digits inside strings, fractions or exponents", () => {
    const text = '{"s": "9007199254740993", "k\\"9007199254740993": 1.9007199254740993123, "e": 1e-9007199254740993}';
    expect(parseExactJson(text)).toEqual(JSON.parse(text));
  });
});
