import { afterEach, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { startServer, type RunningServer } from "../src/index.js";

// Code that writes to the wrapper's own channel (fd 3) must never take `coderouter serve` down:
// each attack ends its own execution with an error, and the server answers /healthz after it.
const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(): Promise<RunningServer> {
  const server = await startServer(createRouter({ env: {} }), { port: 0 }, {});
  servers.push(server);
  return server;
}

const post = async (server: RunningServer, path: string, body: unknown) => {
  const response = await fetch(`${server.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as any };
};

const GARBAGE = {
  python: "import os\nos.write(3, b'{not json\\n\\x00\\xff' * 1000)\nos._exit(0)",
  javascript: "require('fs').writeSync(3, '{not json\\n\\u0000' .repeat(1000))\nprocess.exit(0)",
};
const FORGED = {
  python: 'import os\nos.write(3, b\'{"ready": true}\\n{"reply": 1}\\n{"error": {"kind": "bogus"}}\\n\')\nos._exit(0)',
  javascript: 'require(\'fs\').writeSync(3, \'{"ready": true}\\n{"reply": 1}\\n{"error": {"kind": "bogus"}}\\n\')\nprocess.exit(0)',
};

describe("coderouter serve against code that writes to its result channel", () => {
  for (const isolation of ["process", "sandbox"] as const) {
    for (const language of ["python", "javascript"] as const) {
      it(`stays up after garbage and forged messages on fd 3 (${language}, ${isolation})`, async () => {
        const server = await serve();
        for (const code of [GARBAGE[language], FORGED[language]]) {
          const { status, body } = await post(server, "/v1/execute", { language, code, isolation, runtime: "subprocess" });
          expect(status).toBe(200);
          expect(body).toMatchObject({ ok: false, error: { name: "ProtocolError" } });
          expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        }
        const next = await post(server, "/v1/execute", { language, code: "6 * 7", isolation, runtime: "subprocess" });
        expect(next.body).toMatchObject({ ok: true, output: 42 });
      });

      it(`ends a session whose code writes garbage to the worker's channel (${language}, ${isolation})`, async () => {
        const server = await serve();
        const opened = await post(server, "/v1/sessions", { language, isolation, runtime: "subprocess" });
        expect(opened.status).toBe(201);
        const { body } = await post(server, `/v1/sessions/${opened.body.id}/execute`, { code: GARBAGE[language] });
        expect(body).toMatchObject({ ok: false, error: { name: "ProtocolError" } });
        expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
        const next = await post(server, "/v1/execute", { language, code: "6 * 7", isolation, runtime: "subprocess" });
        expect(next.body).toMatchObject({ ok: true, output: 42 });
      });
    }
  }

  it("refuses inputs nested past the documented depth with 400, and keeps serving", async () => {
    const server = await serve();
    let deep: unknown = 1;
    for (let i = 0; i < 1200; i++) deep = [deep];
    const { status, body } = await post(server, "/v1/execute", { language: "python", code: "1", inputs: { deep } });
    expect(status).toBe(400);
    expect(JSON.stringify(body)).toMatch(/deeper than 200 levels/);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
