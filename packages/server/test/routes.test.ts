import { afterEach, describe, expect, it } from "vitest";
import { createRouter, ExecutionResultSchema, PackageInstallError, type Availability, type RouterOptions } from "coderouter";
import { EchoRuntime } from "../../../router/test/test-runtime.js";
import { startServer, type RunningServer, type ServerSettings } from "../src/index.js";

// The routes and the HTTP plumbing on a router whose one runtime echoes the request: no interpreter
// starts, so these run in the fast suite (`npm run test:fast`).
const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(settings: Partial<ServerSettings> = {}, router = echoRouter()): Promise<RunningServer> {
  const server = await startServer(router, { port: 0, ...settings }, {});
  servers.push(server);
  return server;
}

const echoRouter = (settings: RouterOptions["settings"] = {}) =>
  createRouter({ env: {}, runtimes: [new EchoRuntime("subprocess")], builtinRuntimes: false, settings });

const call = async (server: RunningServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
  const response = await fetch(`${server.url}${path}`, {
    method,
    // A JSON body is sent as application/json, as every client of the API does (the server refuses others with 415).
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as any };
};

describe("routes on a test runtime", () => {
  it("runs a request through POST /v1/execute and the seed's POST /api/e2b/execute alike", async () => {
    const server = await serve();
    const v1 = await call(server, "POST", "/v1/execute", { language: "python", code: "1 + 1" });
    expect(v1.status).toBe(200);
    expect(ExecutionResultSchema.parse(v1.body)).toMatchObject({ ok: true, runtime: "subprocess", output: { ran: "subprocess", code: "1 + 1" } });
    const seed = await call(server, "POST", "/api/e2b/execute", { language: "python", code: "1 + 1" });
    expect(seed.body.output).toEqual(v1.body.output);
  });

  it("answers 400 naming the field for a bad request, a body that is not JSON, or not an object", async () => {
    const server = await serve();
    const bad = await call(server, "POST", "/v1/execute", { language: "cobol", code: "1" });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues.map((i: { path: string }) => i.path)).toContain("language");
    expect((await call(server, "POST", "/v1/execute", "{not json")).status).toBe(400);
    expect((await call(server, "POST", "/v1/execute", [1, 2])).status).toBe(400);
  });

  it("validates session bodies by their schemas: an unknown field or a missing code is a 400", async () => {
    const server = await serve();
    const unknown = await call(server, "POST", "/v1/sessions", { language: "python", colour: "blue" });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.kind).toBe("validation");
    const seedUpload = await call(server, "POST", "/api/e2b/files", { session_id: "s", content: "eA==" });
    expect(seedUpload.status).toBe(400);
    expect(seedUpload.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["file_path"]);
    const noCode = await call(server, "POST", "/api/e2b/execute", { session_id: "nope", language: "python" });
    expect(noCode.status).toBe(400);
    expect(noCode.body.error.issues.map((i: { path: string }) => i.path)).toEqual(["code"]);
  });

  it("answers 404 for an unknown route, a closed or unknown session, and an unparseable target", async () => {
    const server = await serve();
    expect((await call(server, "GET", "/v2/nothing")).body.error.kind).toBe("not_found");
    const session = await call(server, "POST", "/v1/sessions/no-such-id/execute", { code: "1" });
    expect(session.status).toBe(404);
    expect(session.body.error.kind).toBe("session_closed");
    const raw = await rawRequest(server.url, "GET //x:y HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    expect(raw).toMatch(/^HTTP\/1.1 404/);
  });

  it("requires the bearer token when one is set, except for /healthz", async () => {
    const server = await serve({ token: "secret-token" });
    expect((await call(server, "GET", "/healthz")).status).toBe(200);
    const refused = await call(server, "GET", "/openapi.json");
    expect(refused.status).toBe(401);
    expect(refused.headers.get("www-authenticate")).toBe("Bearer");
    expect((await call(server, "GET", "/openapi.json", undefined, { authorization: "Bearer wrong-token!" })).status).toBe(401);
    const allowed = await call(server, "GET", "/openapi.json", undefined, { authorization: "Bearer secret-token" });
    expect(allowed.body.openapi).toBe("3.1.0");
  });

  it("answers a server condition with its status and retryable: 503 for a closed router, 429 at the session limit", async () => {
    const router = echoRouter({ maxSessions: 0 });
    const server = await serve({}, router);
    const full = await call(server, "POST", "/v1/sessions", { language: "python" });
    expect(full.status).toBe(429);
    expect(full.headers.get("retry-after")).toBe("1");
    expect(full.body.error).toMatchObject({ kind: "too_many_sessions", retryable: true });
    const invalid = await call(server, "POST", "/v1/execute", { language: "python" });
    expect(invalid.body.error).toMatchObject({ kind: "validation", retryable: false });
    await router.close();
    const closed = await call(server, "POST", "/v1/execute", { language: "python", code: "1" });
    expect(closed.status).toBe(503);
    expect(closed.body.error).toMatchObject({ kind: "router_closed", retryable: true });
  });

  it("answers 422 naming the packages, with the installer's output, when a request's packages do not install", async () => {
    class RefusingInstaller extends EchoRuntime {
      override async execute(): Promise<never> {
        throw new PackageInstallError(["nothing-here"], "pip exited with code 1", {
          stdout: "",
          stderr: "ERROR: No matching distribution found for nothing-here",
        });
      }
    }
    const router = createRouter({ env: {}, runtimes: [new RefusingInstaller("subprocess", { oneShotPackages: { installs: true } })], builtinRuntimes: false });
    const server = await serve({}, router);
    const answer = await call(server, "POST", "/v1/execute", { language: "python", code: "1", packages: ["nothing-here"] });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toMatchObject({
      kind: "package_install",
      retryable: false,
      packages: ["nothing-here"],
      stderr: expect.stringContaining("nothing-here"),
    });
  });

  it("refuses a body over the limit with 413", async () => {
    const server = await serve({ bodyLimitBytes: 1024 });
    const answer = await call(server, "POST", "/v1/execute", { language: "python", code: "x".repeat(4096) });
    expect(answer.status).toBe(413);
    expect(answer.body.error.kind).toBe("too_large");
  });

  it("answers a body streamed past the limit with 413 and closes the connection, reading no further", async () => {
    const server = await serve({ bodyLimitBytes: 1024 });
    const { hostname, port } = new URL(server.url);
    const { connect } = await import("node:net");
    // The client announces far more than the limit and keeps the connection open: the answer must not wait for the rest.
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), hostname, () => {
        socket.write(`POST /v1/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n`);
        socket.write(`{"language":"python","code":"${"x".repeat(4096)}`);
      });
      let text = "";
      socket.on("data", (chunk) => (text += chunk.toString()));
      socket.on("close", () => resolve(text));
      socket.on("error", reject);
    });
    expect(answer).toMatch(/^HTTP\/1.1 413/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"kind":"too_large"');
  });

  it("routes a target that is no plain path by its parsed pathname: a query, dot segments, escapes", async () => {
    const server = await serve();
    for (const path of ["/v1/execute?verbose=1", "/v1/./execute", "/v1/x/../execute"]) {
      const answer = await call(server, "POST", path, { language: "python", code: "1" });
      expect(answer.status, path).toBe(200);
      expect(answer.body.output).toEqual({ ran: "subprocess", code: "1" });
    }
    // Percent-escapes stay escaped in a pathname, as before: no route has one.
    expect((await call(server, "POST", "/v1/%65xecute", { language: "python", code: "1" })).status).toBe(404);
    expect((await call(server, "POST", "/v1/execute/", { language: "python", code: "1" })).status).toBe(404);
  });
});

describe("the default isolation's probe", () => {
  it("starts with the server, before any request, and the server's close waits for it", async () => {
    let probed!: () => void;
    let answer!: (availability: Availability) => void;
    const asked = new Promise<void>((resolve) => (probed = resolve));
    const runtime = new (class extends EchoRuntime {
      override availability(): Promise<Availability> {
        probed();
        return new Promise((resolve) => (answer = resolve));
      }
    })("subprocess", { isolation: "sandbox" });
    const server = await startServer(createRouter({ env: {}, runtimes: [runtime], builtinRuntimes: false }), { port: 0 }, {});
    // No request has been made: the server asked on its own.
    await asked;
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(false);
    expect(runtime.closed).toBe(false);
    answer({ available: true, reason: "test runtime" });
    await closing;
    expect(runtime.closed).toBe(true);
  });

  it("gives a request that names no isolation the sandbox a ready runtime offers, and one that names it what it asked", async () => {
    const runtime = new EchoRuntime("subprocess", { isolation: "sandbox" });
    const server = await serve({}, createRouter({ env: {}, runtimes: [runtime], builtinRuntimes: false }));
    expect((await call(server, "POST", "/v1/execute", { language: "python", code: "1" })).status).toBe(200);
    expect((await call(server, "POST", "/v1/execute", { language: "python", code: "1", isolation: "process" })).status).toBe(200);
    expect(runtime.executions.map((e) => e.isolation)).toEqual(["sandbox", "process"]);
  });
});

async function rawRequest(url: string, text: string): Promise<string> {
  const { connect } = await import("node:net");
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(text));
    let answer = "";
    socket.on("data", (chunk) => (answer += chunk.toString()));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}
