import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { format } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NormalizedRequest } from "@coderouter/core";
import { IsolateRuntime, type IsolateSettings } from "../src/index.js";

const SETTINGS: IsolateSettings = {
  poolSize: 2,
  poolMax: 8,
  memoryMb: 128,
  maxExecutions: 3,
  fetchAllow: ["127.0.0.1"],
  fetchTimeoutMs: 2000,
  fetchMaxBytes: 1024,
  // The test server below is on loopback, which the bridge refuses unless told otherwise.
  fetchAllowPrivate: true,
  wasm: false,
};

let runtime: IsolateRuntime;
beforeAll(() => {
  runtime = new IsolateRuntime(SETTINGS);
});
afterAll(() => runtime.close());

const run = (code: string, extra: Partial<NormalizedRequest> = {}) =>
  runtime.execute({ language: "javascript", code, inputs: {}, timeoutMs: 5000, isolation: "sandbox", maxOutputBytes: 1 << 20, ...extra });

describe("console", () => {
  // Each entry is JavaScript source for console.log's arguments; the host formats the same values
  // with Node's own util.format, and the isolate must print the same text.
  const cases = [
    `"plain", 42, true, null, undefined`,
    `{ a: 1, b: "x", nested: { deep: { deeper: { deepest: 1 } } } }`,
    `[1, "two", [3, [4, [5, [6]]]]], []`,
    `new Map([["k", 1]]), new Set([1, 2])`,
    `"%s is %d years and %i days", "Ada", 36.5, 7.9`,
    `"%o|%O|%j", { a: 1 }, { b: [2] }, { c: 3 }`,
    `{ "needs quotes": 1, it_s: "it's" }, -0, 10n, Symbol("s")`,
    `function named() {}, class Klass {}, () => 1`,
    `new (class Point { constructor() { this.x = 1; this.y = 2 } })()`,
    `Object.create(null), new Date(0), /re/g, new Uint8Array([1, 2])`,
    `{ long: "a".repeat(30), longer: "b".repeat(30), longest: "c".repeat(30) }`,
    `Array.from({ length: 120 }, (_, i) => i)`,
    `[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 6, 7], ["a", "b", "c", "d", "e", "f", "g"]`,
    `{ a: [1, 2, 3, 4, 5, 6, 7, 8] }, [{ a: 1 }, { b: 2 }, { c: 3 }, { d: 4 }, { e: 5 }, { f: 6 }, { g: 7 }]`,
    `Array.from({ length: 27 }, (_, i) => i * 37), ["x".repeat(20), "y", "z", "w", "v", "u", "t"]`,
    `{ key: "v".repeat(60) }, { a: { b: { c: {} } } }, [[]], [{}], { x: undefined, y: null }`,
  ];

  it.each(cases)("prints console.log(%s) as Node does", async (args) => {
    const result = await run(`console.log(${args})`);
    expect(result.error).toBeUndefined();
    const expected = format(...(new Function(`return [${args}]`)() as unknown[]));
    expect(result.stdout).toBe(`${expected}\n`);
  });

  it("sends console.error and console.warn to stderr, the rest to stdout", async () => {
    const result = await run(`console.info("i"); console.debug("d"); console.error("e"); console.warn("w")`);
    expect(result.stdout).toBe("i\nd\n");
    expect(result.stderr).toBe("e\nw\n");
  });
});

describe("output", () => {
  it("reports plain data as it is and converts the rest, holes, shared values and Dates included", async () => {
    expect((await run("({ rows: [{ a: 1, b: [true, null, 'x'] }], n: 2.5 })")).output).toEqual({ rows: [{ a: 1, b: [true, null, "x"] }], n: 2.5 });
    expect((await run("[1, , 3]")).output).toEqual([1, null, 3]);
    expect((await run("const shared = { x: 1 }; [shared, shared]")).output).toEqual([{ x: 1 }, { x: 1 }]);
    expect((await run("({ when: new Date(0), n: NaN, f() {} })")).output).toEqual({ when: "1970-01-01T00:00:00.000Z", n: null, f: null });
    expect((await run("const loop = { a: 1 }; loop.self = loop; loop")).error).toMatchObject({ name: "CircularOutputError" });
  });
});

describe("timers", () => {
  it("runs timers in order and bounds them by the deadline", async () => {
    const result = await run(`const order = []
setTimeout(() => order.push("b"), 20)
setTimeout(() => order.push("a"), 5)
const id = setInterval(() => order.push("i"), 1)
await new Promise((resolve) => setTimeout(resolve, 50))
clearInterval(id)
order.filter((x) => x !== "i").concat(order.includes("i") ? ["interval ran"] : [])`);
    expect(result.output).toEqual(["a", "b", "interval ran"]);
  });
});

describe("pool", () => {
  it("keeps isolates warm ahead of demand and retires them after ISOLATE_MAX_EXECUTIONS", async () => {
    const local = new IsolateRuntime({ ...SETTINGS, maxExecutions: 2 });
    try {
      const exec = () =>
        local.execute({
          language: "javascript",
          code: "globalThis.count = (globalThis.count ?? 0) + 1",
          inputs: {},
          timeoutMs: 5000,
          isolation: "sandbox",
          maxOutputBytes: 1 << 20,
        });
      for (let i = 0; i < 6; i++) expect((await exec()).output).toBe(1);
      await new Promise((resolve) => setImmediate(resolve));
      expect(local.idleIsolates()).toBe(SETTINGS.poolSize);
    } finally {
      await local.close();
    }
  });

  it("replaces an isolate that hit its memory limit; the host is unharmed", async () => {
    const before = process.memoryUsage().rss;
    const bomb = await run("const a = []\nwhile (true) a.push(new Array(1e6).fill(1))", { memoryMb: 32 });
    expect(bomb.error?.kind).toBe("memory");
    expect((await run("6 * 7")).output).toBe(42);
    expect(process.memoryUsage().rss - before).toBeLessThan(512 * 1024 * 1024);
  });
});

describe("WebAssembly", () => {
  it("is absent from guest contexts, in fresh contexts and in sessions alike", async () => {
    expect((await run("typeof WebAssembly")).output).toBe("undefined");
    expect((await run("globalThis.WebAssembly === undefined && !Object.getOwnPropertyNames(globalThis).includes('WebAssembly')")).output).toBe(true);
    const session = await runtime.openSession({ language: "javascript", isolation: "sandbox" });
    try {
      const request = { language: "javascript" as const, inputs: {}, timeoutMs: 5000, isolation: "sandbox" as const, maxOutputBytes: 1 << 20 };
      expect((await session.execute({ ...request, code: "typeof WebAssembly" })).output).toBe("undefined");
    } finally {
      await session.close();
    }
  });

  it("is there with ISOLATE_WASM=true, and the isolate then claims only process isolation", async () => {
    const local = new IsolateRuntime({ ...SETTINGS, wasm: true });
    try {
      expect(local.capabilities().isolation).toBe("process");
      const result = await local.execute({
        language: "javascript",
        code: "new WebAssembly.Memory({ initial: 1 }).buffer.byteLength",
        inputs: {},
        timeoutMs: 5000,
        isolation: "process",
        maxOutputBytes: 1 << 20,
      });
      expect(result.output).toBe(65536);
    } finally {
      await local.close();
    }
  });
});

describe("fetch", () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/big") return res.end("x".repeat(4096));
      if (req.url === "/away") {
        res.writeHead(302, { location: "http://localhost.invalid/" });
        return res.end();
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ method: req.method, url: req.url }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it("is absent unless the request asks for the network", async () => {
    expect((await run("typeof fetch")).output).toBe("undefined");
  });

  it("reaches an allowed host through the host's bridge", async () => {
    const result = await run(`const r = await fetch(inputs.url + "/hello", { method: "POST", body: "x" })\nreturn [r.status, await r.json()]`, {
      network: true,
      inputs: { url: base },
    });
    expect(result.output).toEqual([200, { method: "POST", url: "/hello" }]);
  });

  it.each([
    ["a host not on the allow-list", "http://localhost:1/", /not in ISOLATE_FETCH_ALLOW/],
    ["a redirect to a host not on the allow-list", "/away", /localhost.invalid is not in ISOLATE_FETCH_ALLOW/],
    ["a response over the size cap", "/big", /larger than 1024 bytes/],
    ["a non-http scheme", "file:///etc/passwd", /file: URLs are not allowed/],
  ])("refuses %s", async (_name, target, message) => {
    const url = target.startsWith("/") ? base + target : target;
    const result = await run(`await fetch(inputs.url)`, { network: true, inputs: { url } });
    expect(result.error?.name).toBe("TypeError");
    expect(result.error?.message).toMatch(message);
  });
});

describe("typescript", () => {
  it("maps the line and column of an error back to the user's source", async () => {
    const line = "const f = (x: string, ys: Array<number>): number => { throw new Error(x) }";
    const result = await runtime.execute({
      language: "typescript",
      code: `${line}\nf("boom", [1])`,
      inputs: {},
      timeoutMs: 5000,
      isolation: "sandbox",
      maxOutputBytes: 1 << 20,
    });
    expect(result.error?.traceback).toContain(`main.ts:1:${line.indexOf("new Error") + 1}`);
    expect(result.error?.traceback).toContain("main.ts:2:1");
  });
});
