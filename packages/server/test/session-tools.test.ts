import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { startServer, type RunningServer } from "../src/index.js";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess", "isolate"] } }), { port: 0 }, {});
});
afterAll(() => server.close());

const json = async (method: string, path: string, body?: unknown) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  return { status: response.status, body: (await response.json()) as any };
};

describe("a session's environment over HTTP", () => {
  it("answers the interpreter, packages with versions, platform, working directory and limits", async () => {
    const { body: opened } = await json("POST", "/v1/sessions", {
      language: "python",
      runtime: "subprocess",
      isolation: "process",
      timeoutMs: 7000,
      memoryMb: 256,
    });
    const { status, body } = await json("GET", `/v1/sessions/${opened.id}/environment`);
    expect(status).toBe(200);
    expect(body.success).toBe(true);
    expect(body.environment).toMatchObject({
      language: "python",
      version: expect.stringMatching(/^3\.\d+/),
      platform: expect.any(String),
      cwd: expect.any(String),
      sessionId: opened.id,
      runtime: "subprocess",
      limits: { timeoutMs: 7000, memoryMb: 256, isolation: "process", network: false },
    });
    expect(body.environment.packages).toEqual(expect.arrayContaining([expect.stringMatching(/^[\w.-]+==\S+$/)]));
    // The seed's route answers the same.
    const seed = await json("GET", `/api/e2b/environment/${opened.id}`);
    expect(seed.body.environment.sessionId).toBe(opened.id);
    await json("DELETE", `/v1/sessions/${opened.id}`);
    expect((await json("GET", `/v1/sessions/${opened.id}/environment`)).status).toBe(404);
  });

  it("answers the Node version for a JavaScript session", async () => {
    const { body: opened } = await json("POST", "/v1/sessions", { language: "javascript", runtime: "subprocess" });
    const { body } = await json("GET", `/v1/sessions/${opened.id}/environment`);
    expect(body.environment).toMatchObject({ language: "javascript", version: process.version, runtime: "subprocess" });
    await json("DELETE", `/v1/sessions/${opened.id}`);
  });

  it("refuses a package spec that would be a flag, before any installer runs", async () => {
    const { body: opened } = await json("POST", "/v1/sessions", { language: "python", runtime: "subprocess" });
    const refused = await json("POST", `/v1/sessions/${opened.id}/packages`, { packages: ["--index-url=http://127.0.0.1:1/"] });
    expect(refused.status).toBe(400);
    expect(refused.body.error.kind).toBe("validation");
    const seed = await json("POST", "/api/e2b/install_package", { session_id: opened.id, package: "-e ." });
    expect(seed.status).toBe(400);
    await json("DELETE", `/v1/sessions/${opened.id}`);
  });
});
