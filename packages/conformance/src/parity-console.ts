import type { ParityProgram } from "./parity-programs.js";

export const JAVASCRIPT_PARITY: ParityProgram[] = [
  {
    name: "BigInts come back as their exact digits, numbers as the doubles they are",
    body: "const values = [2n ** 64n, -(2n ** 70n), 2 ** 53 + 2, 2 ** 64, 1e20, Number.MAX_SAFE_INTEGER, 0.1 + 0.2, NaN, -Infinity]",
    value: "values",
  },
  {
    name: "an uncaught exception names its class",
    body: "JSON.parse('{')",
    value: "null",
    compare: ["error", "stdout"],
  },
];
