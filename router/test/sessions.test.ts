import { afterEach, describe, expect, it } from "vitest";
import { createRouter, NoRuntimeAvailableError, RuntimeUnavailableError, SessionClosedError, ValidationError, type Router } from "../src/index.js";

const routers: Router[] = [];
function router(settings = {}): Router {
  const r = createRouter({ env: {}, settings });
  routers.push(r);
  return r;
}
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.close()));
});

describe.each(["none", "sandbox"] as const)("python sessions (isolation %s)", (isolation) => {
  it("keeps variables, imports and definitions between executions", async () => {
    const session = await router().openSession({ language: "python", isolation });
    expect((await session.execute("import statistics\nseen = []\ndef add(x):\n    seen.append(x)\n    return len(seen)")).ok).toBe(true);
    await session.execute("add(1)");
    const result = await session.execute("add(inputs['n']), statistics.mean(seen)", { inputs: { n: 3 } });
    expect(result.output).toEqual([2, 2]);
    expect(result.metadata.routing.reason).toBe(`session ${session.id}`);
  });

  it("reads and writes files in its working directory, and refuses paths leading out", async () => {
    const session = await router().openSession({ language: "python", isolation });
    await session.files.write("in/data.csv", "a,b\n1,2\n");
    await session.files.write("bytes.bin", new Uint8Array([0, 255, 10]));
    expect((await session.execute("open('in/data.csv').read().splitlines()")).output).toEqual(["a,b", "1,2"]);
    await session.execute("open('out.txt', 'w').write('from code')");
    expect((await session.files.read("out.txt")).toString()).toBe("from code");
    expect([...(await session.files.read("bytes.bin"))]).toEqual([0, 255, 10]);
    expect((await session.files.list()).map((e) => `${e.type}:${e.path}`)).toEqual(["file:bytes.bin", "directory:in", "file:out.txt"]);
    await session.files.remove("in");
    expect((await session.files.list()).map((e) => e.path)).toEqual(["bytes.bin", "out.txt"]);
    await session.execute("import os\nos.symlink('/etc', 'escape')");
    for (const path of ["/etc/passwd", "../outside", "in/../../outside", "escape/hostname"]) {
      await expect(session.files.read(path)).rejects.toThrow(ValidationError);
    }
  });

  it("describes its environment", async () => {
    const session = await router().openSession({ language: "python", isolation });
    expect(await session.environment()).toMatchObject({ language: "python", version: expect.stringMatching(/^3\./), packages: expect.any(Array) });
  });

  it("says so on the next call when a timeout ended its worker, and a new one can be opened", async () => {
    const r = router();
    const session = await r.openSession({ language: "python", isolation, timeoutMs: 500 });
    expect((await session.execute("while True: pass")).error?.kind).toBe("timeout");
    await expect(session.execute("1")).rejects.toThrow(SessionClosedError);
    expect(() => r.session(session.id)).toThrow(SessionClosedError);
    expect((await (await r.openSession({ language: "python", isolation })).execute("1 + 1")).output).toBe(2);
  });
});

describe.each(["javascript", "typescript"] as const)("%s sessions on the isolate", (language) => {
  it("keeps globals and top-level declarations between executions", async () => {
    const session = await router().openSession({ language });
    expect(session.runtime).toBe("isolate");
    const typed = language === "typescript" ? ": number[]" : "";
    await session.execute(
      `const seen${typed} = []\nlet calls = 0\nfunction add(v) { seen.push(v); return ++calls }\nclass Box { constructor(v) { this.v = v } }`,
    );
    await session.execute("add(inputs.v)", { inputs: { v: 1 } });
    const result = await session.execute("const { length } = seen;\n[add(2), length, new Box(seen).v]");
    expect(result.output).toEqual([2, 1, [1, 2]]);
    expect((await session.execute("length")).output).toBe(1);
  });

  it("has no filesystem, and says so", async () => {
    const session = await router().openSession({ language });
    await expect(session.files.list()).rejects.toThrow(/no filesystem/);
    expect(await session.environment()).toMatchObject({ language, filesystem: false });
  });
});

describe.each(["none", "sandbox"] as const)("javascript sessions on subprocess (isolation %s)", (isolation) => {
  it("keeps declarations between executions, with files in its working directory", async () => {
    const session = await router().openSession({ language: "javascript", runtime: "subprocess", isolation });
    expect(session.runtime).toBe("subprocess");
    await session.execute("const fs = require('node:fs')\nlet total = 0\nfunction add(n) { total += n; return total }");
    await session.files.write("numbers.json", JSON.stringify([1, 2, 3]));
    const result = await session.execute("for (const n of JSON.parse(fs.readFileSync('numbers.json', 'utf8'))) add(n)\nconsole.log('sum', total)\ntotal");
    expect(result).toMatchObject({ ok: true, output: 6, stdout: "sum 6\n" });
    await session.execute("fs.writeFileSync('out.txt', String(total * 2))");
    expect((await session.files.read("out.txt")).toString()).toBe("12");
    await expect(session.files.read("../../etc/passwd")).rejects.toThrow(ValidationError);
    expect((await session.execute("undefinedThing.x")).error).toMatchObject({ kind: "runtime", name: "ReferenceError" });
    expect((await session.execute("add(1)")).output).toBe(7);
  });
});

describe("session lifecycle", () => {
  it("expires an idle session and frees it", async () => {
    const r = router();
    const session = await r.openSession({ language: "python", idleTimeoutMs: 200 });
    await session.execute("x = 1");
    await new Promise((resolve) => setTimeout(resolve, 400));
    await expect(session.execute("x")).rejects.toThrow(/idle for 200 ms/);
    expect(r.sessions()).toEqual([]);
  });

  it("refuses a session past CODEROUTER_MAX_SESSIONS with a clear error", async () => {
    const r = router({ maxSessions: 1 });
    const first = await r.openSession({ language: "python" });
    await expect(r.openSession({ language: "python" })).rejects.toThrow(/CODEROUTER_MAX_SESSIONS/);
    await first.close();
    await expect(r.openSession({ language: "python" })).resolves.toBeDefined();
  });

  it("rejects invalid session options, and a runtime that cannot keep the session asked for", async () => {
    const r = router();
    await expect(r.openSession({ language: "cobol" } as never)).rejects.toThrow(ValidationError);
    await expect(r.openSession({ language: "python", runtime: "isolate" })).rejects.toThrow(RuntimeUnavailableError);
    await expect(r.openSession({ language: "javascript", isolation: "vm" })).rejects.toThrow(NoRuntimeAvailableError);
  });

  it("closes every session when the router closes", async () => {
    const r = createRouter({ env: {} });
    const session = await r.openSession({ language: "python" });
    await r.close();
    await expect(session.execute("1")).rejects.toThrow(SessionClosedError);
  });
});
