import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { format as nodeFormat } from "node:util";
import { describe, expect, it } from "vitest";

// The guest files are plain CommonJS; loaded here as the host loads them, and checked against the host's own node.
const require = createRequire(import.meta.url);
const inspectModule = require("../runners/inspect.cjs") as { format: (...args: unknown[]) => string; inspect: (v: unknown, o?: object) => string };
const { makeConsole } = require("../runners/console.cjs") as {
  makeConsole: (write: (stream: number, text: string) => void, inspect: typeof inspectModule) => Record<string, (...args: unknown[]) => unknown>;
};

describe("inspect.cjs prints as Node's util.inspect", () => {
  const cyclic: Record<string, unknown> = { name: "c" };
  cyclic.self = cyclic;
  cyclic.list = [cyclic, { back: cyclic }];
  const twoCycles: Record<string, unknown> = { inner: {} };
  (twoCycles.inner as Record<string, unknown>).me = twoCycles.inner;
  twoCycles.top = twoCycles;
  const values: [string, unknown][] = [
    [
      "accessors",
      {
        get a() {
          return 1;
        },
        set b(_v: unknown) {},
        get c() {
          return 1;
        },
        set c(_v: unknown) {},
        [Symbol("s")]: 2,
      },
    ],
    // biome-ignore lint/suspicious/noSparseArray: holes are what is being printed
    ["holes", [1, , 3, , , 6]],
    ["only holes", new Array(5)],
    ["a cycle", cyclic],
    ["two cycles", twoCycles],
    [
      "an array that holds itself",
      (() => {
        const a: unknown[] = [1];
        a.push(a);
        return a;
      })(),
    ],
    ["an error", new TypeError("bad")],
    // biome-ignore lint/suspicious/noSparseArray: holes are what is being printed
    ["a long sparse array", [1, 2, , ...Array(120).fill(0)]],
  ];
  it.each(values)("%s", (_name, value) => {
    expect(inspectModule.format(value)).toBe(nodeFormat(value));
  });
});

describe("console.cjs behaves as Node's console", () => {
  it("writes the same text to the same streams, and every method returns undefined", () => {
    const program = (console: Console) => {
      const results = [
        console.table([
          { a: 1, b: "x" },
          { a: 22, c: true },
        ]),
        console.table({ r1: { x: 1 }, r2: { x: "long text" } }, ["x"]),
        console.table([1, "two", { a: 1 }]),
        console.group("G"),
        console.log("in\nside"),
        console.group(),
        console.warn("deep", { a: 1 }),
        console.groupEnd(),
        console.groupEnd(),
        console.dir({ a: { b: { c: { d: 1 } } } }),
        console.count(),
        console.count("x"),
        console.count(),
        console.countReset(),
        console.count(),
        console.assert(false, "no %s", "way"),
        console.assert(false),
        console.assert(true),
        console.error("e %d", 5),
        console.info("i"),
        console.debug("d"),
      ];
      return results.every((r) => r === undefined);
    };
    const out = ["", ""];
    const ours = program(makeConsole((stream, text) => (out[stream] += text), inspectModule) as unknown as Console);
    const node = spawnSync(process.execPath, ["-e", `process.exitCode = (${program})(console) ? 0 : 3`], { encoding: "utf8" });
    expect(ours).toBe(true);
    expect(node.status).toBe(0);
    expect(out).toEqual([node.stdout, node.stderr]);
  });
});
