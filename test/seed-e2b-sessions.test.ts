import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { startServer, type RunningServer } from "@coderouter/server";
import { LocalE2B } from "./e2b-server/server.js";

// Seed 002's sessions API, over HTTP exactly as the seed writes its calls, against the local E2B.

const e2b = new LocalE2B({ contextDelayMs: 100 });
let server: RunningServer;
let local: RunningServer;

beforeAll(async () => {
  await e2b.start();
  server = await startServer(createRouter({ env: e2b.env() }), { port: 0 }, {});
  // A service without E2B: provider e2b must fail there, saying why.
  local = await startServer(createRouter({ env: {} }), { port: 0 }, {});
});

afterAll(async () => {
  await server?.close();
  await local?.close();
  await e2b.close();
});

async function call(target: RunningServer, method: string, path: string, body?: unknown) {
  const response = await fetch(`${target.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  const type = response.headers.get("content-type") ?? "";
  const parsed: any = type.includes("json") ? await response.json() : Buffer.from(await response.arrayBuffer());
  return { status: response.status, body: parsed };
}

const base64 = (data: string | Buffer) => Buffer.from(data).toString("base64");

describe("seed 002: E2B sessions over HTTP", () => {
  it("creates an E2B session, executes, writes /workspace/data.csv, reads it from code, lists /workspace and reads a file back", async () => {
    const created = await call(server, "POST", "/api/sessions", { agent: "code_executor", environment: "e2b-python", provider: "e2b" });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ provider: "e2b", runtime: "e2b", language: "python", workspace: "/workspace", agent: "code_executor" });
    const id = created.body.session_id as string;
    expect(e2b.live()).toHaveLength(1);

    const hello = await call(server, "POST", "/api/e2b/execute", { session_id: id, code: "print('Hello from E2B')", language: "python" });
    expect(hello.body).toMatchObject({ ok: true, runtime: "e2b", stdout: "Hello from E2B\n" });

    const written = await call(server, "POST", "/api/e2b/files", { session_id: id, file_path: "/workspace/data.csv", content: base64("a,b\n1,2\n3,4\n") });
    expect(written.status).toBe(200);

    const read = await call(server, "POST", "/api/e2b/execute", {
      session_id: id,
      code: "import csv, os\nrows = list(csv.reader(open('/workspace/data.csv')))\nopen('output.txt', 'w').write(f'{len(rows) - 1} rows')\n(os.getcwd(), rows[1])",
      language: "python",
    });
    expect(read.body).toMatchObject({ ok: true, output: ["/workspace", ["1", "2"]] });
    // State is kept in the session's kernel.
    expect((await call(server, "POST", "/api/e2b/execute", { session_id: id, code: "len(rows)", language: "python" })).body.output).toBe(3);

    const listed = await call(server, "GET", `/api/e2b/files/${id}?directory=/workspace`);
    expect(listed.status).toBe(200);
    expect(listed.body.entries.map((e: { name: string }) => e.name)).toEqual(["data.csv", "output.txt"]);
    const back = await call(server, "GET", `/api/e2b/files/${id}/output.txt`);
    expect(back.status).toBe(200);
    expect(back.body.toString()).toBe("2 rows");

    // The same workspace from JavaScript, in the same sandbox.
    const js = await call(server, "POST", "/api/e2b/execute", {
      session_id: id,
      code: "require('node:fs').readFileSync('/workspace/data.csv', 'utf8').split('\\n').length",
      language: "javascript",
    });
    expect(js.body).toMatchObject({ ok: true, output: 4 });
    expect(e2b.live()).toHaveLength(1);

    expect((await call(server, "DELETE", `/v1/sessions/${id}`)).status).toBe(200);
    expect(e2b.live()).toEqual([]);
  });

  it("keeps file contents byte for byte, and answers bad base64 with 400 and a missing file with 404", async () => {
    const id = (await call(server, "POST", "/api/sessions", { environment: "python", provider: "e2b" })).body.session_id as string;
    const bytes = Buffer.from([0, 255, 1, 128, 10, 13, 0x89, 0x50]);
    expect((await call(server, "POST", "/api/e2b/files", { session_id: id, file_path: "/workspace/blob.bin", content: base64(bytes) })).status).toBe(200);
    expect((await call(server, "GET", `/api/e2b/files/${id}/blob.bin`)).body).toEqual(bytes);
    expect((await call(server, "POST", "/api/e2b/execute", { session_id: id, code: "list(open('blob.bin', 'rb').read())" })).body.output).toEqual([...bytes]);

    const invalid = await call(server, "POST", "/api/e2b/files", { session_id: id, file_path: "/workspace/x", content: "not base64!" });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.message).toMatch(/base64/);
    const missing = await call(server, "GET", `/api/e2b/files/${id}/nothing-here.txt`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toMatchObject({ kind: "not_found" });
    const outside = await call(server, "POST", "/api/e2b/files", { session_id: id, file_path: "/etc/passwd", content: base64("x") });
    expect(outside.status).toBe(400);
    await call(server, "DELETE", `/v1/sessions/${id}`);
  });

  it("opens a bash environment whose scripts run in /workspace", async () => {
    const bash = await call(server, "POST", "/api/sessions", { environment: "bash", provider: "e2b" });
    expect(bash.body).toMatchObject({ language: "bash", provider: "e2b" });
    const id = bash.body.session_id as string;
    await call(server, "POST", "/api/e2b/files", { session_id: id, file_path: "/workspace/names.txt", content: base64("b\na\n") });
    const sorted = await call(server, "POST", "/api/e2b/execute", { session_id: id, code: "sort names.txt > sorted.txt && pwd", language: "bash" });
    expect(sorted.body).toMatchObject({ ok: true, exitCode: 0, stdout: "/workspace\n" });
    expect((await call(server, "GET", `/api/e2b/files/${id}/sorted.txt`)).body.toString()).toBe("a\nb\n");
    await call(server, "DELETE", `/v1/sessions/${id}`);
  });

  it("opens a node environment, and refuses an unknown environment or provider listing the accepted values", async () => {
    const node = await call(server, "POST", "/api/sessions", { environment: "node", provider: "e2b" });
    expect(node.body).toMatchObject({ language: "javascript", provider: "e2b" });
    expect((await call(server, "POST", "/api/e2b/execute", { session_id: node.body.session_id, code: "const n = 2; n * 21" })).body.output).toBe(42);
    await call(server, "DELETE", `/v1/sessions/${node.body.session_id}`);

    const unknown = await call(server, "POST", "/api/sessions", { environment: "cobol", provider: "e2b" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain("e2b-python, python, node, javascript, typescript, bash");
    const provider = await call(server, "POST", "/api/sessions", { environment: "python", provider: "docker" });
    expect(provider.status).toBe(400);
    expect(provider.body.error.message).toContain("auto, e2b");
  });

  it("answers provider e2b with 503 naming why when E2B cannot serve it, and never opens a local session instead", async () => {
    const refused = await call(local, "POST", "/api/sessions", { agent: "code_executor", environment: "e2b-python", provider: "e2b" });
    expect(refused.status).toBe(503);
    expect(refused.body.error.message).toMatch(/E2B_API_KEY/);
    expect((await call(local, "GET", "/v1/sessions")).body.sessions).toEqual([]);
    // Without a provider the session is routed (here to a local runtime).
    const routed = await call(local, "POST", "/api/sessions", { environment: "python" });
    expect(routed.status).toBe(201);
    expect(routed.body.provider).not.toBe("e2b");
    await call(local, "DELETE", `/v1/sessions/${routed.body.session_id}`);
  });
});
