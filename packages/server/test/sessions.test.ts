import { execFileSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { startServer, type RunningServer } from "../src/index.js";

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(): Promise<RunningServer> {
  const server = await startServer(createRouter({ env: {} }), { port: 0 }, {});
  servers.push(server);
  return server;
}

const call = async (server: RunningServer, method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body) }),
    ...(body === undefined || body instanceof Uint8Array ? {} : { headers: { "content-type": "application/json" } }),
  });
  const type = response.headers.get("content-type") ?? "";
  return { status: response.status, body: type.includes("json") ? await response.json() : Buffer.from(await response.arrayBuffer()) } as {
    status: number;
    body: any;
  };
};

describe("sessions over HTTP", () => {
  it("keeps state between executions, with files, and ends on DELETE", async () => {
    const server = await serve();
    const opened = await call(server, "POST", "/v1/sessions", { language: "python", isolation: "sandbox" });
    expect(opened.status).toBe(201);
    const id = opened.body.id as string;
    expect((await call(server, "POST", `/v1/sessions/${id}/execute`, { code: "count = inputs['start']", inputs: { start: 10 } })).body.ok).toBe(true);
    expect((await call(server, "POST", `/v1/sessions/${id}/execute`, { code: "count += 1\ncount" })).body.output).toBe(11);

    expect((await call(server, "PUT", `/v1/sessions/${id}/files?path=data/in.txt`, "payload")).status).toBe(200);
    expect((await call(server, "POST", `/v1/sessions/${id}/execute`, { code: "open('data/in.txt').read().upper()" })).body.output).toBe("PAYLOAD");
    expect((await call(server, "GET", `/v1/sessions/${id}/files?path=data/in.txt`)).body.toString()).toBe("payload");
    expect((await call(server, "GET", `/v1/sessions/${id}/files`)).body.entries.map((e: { path: string }) => e.path)).toEqual(["data"]);
    expect((await call(server, "GET", `/v1/sessions/${id}/files?path=../../etc/passwd`)).status).toBe(400);
    expect((await call(server, "DELETE", `/v1/sessions/${id}/files?path=data`)).status).toBe(200);

    expect((await call(server, "GET", `/v1/sessions/${id}`)).body).toMatchObject({ id, runtime: "subprocess", language: "python", alive: true });
    expect((await call(server, "DELETE", `/v1/sessions/${id}`)).status).toBe(200);
    const after = await call(server, "POST", `/v1/sessions/${id}/execute`, { code: "count" });
    expect(after.status).toBe(404);
    expect(after.body.error.kind).toBe("session_closed");
  });

  it("answers the seed's session routes (routed, without a provider), with /workspace paths", async () => {
    const server = await serve();
    const opened = await call(server, "POST", "/api/sessions", { agent: "code_executor", environment: "e2b-python" });
    const id = opened.body.session_id as string;
    await call(server, "POST", "/api/e2b/files", { session_id: id, file_path: "/workspace/data.csv", content: Buffer.from("a,b\n1,2").toString("base64") });
    const ran = await call(server, "POST", "/api/e2b/execute", {
      session_id: id,
      code: "rows = open('data.csv').read().splitlines()\nprint('Hello from E2B')\nlen(rows)",
      language: "python",
    });
    expect(ran.body).toMatchObject({ ok: true, output: 2, stdout: "Hello from E2B\n" });
    expect((await call(server, "POST", "/api/e2b/execute", { session_id: id, code: "rows[1]", language: "python" })).body.output).toBe("1,2");
    expect((await call(server, "GET", `/api/e2b/files/${id}?directory=/workspace`)).body.entries.map((e: { name: string }) => e.name)).toEqual(["data.csv"]);
    expect((await call(server, "GET", `/api/e2b/files/${id}?directory=/etc`)).status).toBe(400);
    expect((await call(server, "GET", `/api/e2b/files/${id}/missing.txt`)).status).toBe(404);
    expect((await call(server, "GET", `/api/e2b/files/${id}/data.csv`)).body.toString()).toBe("a,b\n1,2");
  });

  it("soak: opens, uses and closes 40 sessions, leaving no worker and no session behind", async () => {
    const server = await serve();
    for (let i = 0; i < 40; i++) {
      const id = (await call(server, "POST", "/v1/sessions", { language: "python" })).body.id;
      await call(server, "POST", `/v1/sessions/${id}/execute`, { code: `x = ${i}` });
      expect((await call(server, "POST", `/v1/sessions/${id}/execute`, { code: "x * 2" })).body.output).toBe(i * 2);
      await call(server, "DELETE", `/v1/sessions/${id}`);
    }
    expect((await call(server, "GET", "/v1/sessions")).body.sessions).toEqual([]);
    const metrics = (await call(server, "GET", "/metrics")).body.toString();
    expect(metrics).toContain("coderouter_sessions_open 0");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const workers = execFileSync("ps", ["-eo", "ppid,args"], { encoding: "utf8" })
      .split("\n")
      .filter((line) => Number(line.trim().split(/\s+/)[0]) === process.pid && line.includes("coderouter_session"));
    expect(workers).toEqual([]);
  });
});
