import { request as httpRequest } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { startServer, type RunningServer, type ServerSettings } from "../src/index.js";

const servers: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(settings: Partial<ServerSettings> = {}, routerEnv: Record<string, string> = {}): Promise<RunningServer> {
  const server = await startServer(createRouter({ env: routerEnv, dotenv: false }), { port: 0, ...settings }, {});
  servers.push(server);
  return server;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request with exactly the headers given (fetch() would add and forbid some, Host among them). */
function send(server: RunningServer, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: url.hostname, port: url.port, method, path, headers, setHost: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (text += chunk));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

const CODE = JSON.stringify({ language: "javascript", code: "6 * 7" });
const executions = async (server: RunningServer) => {
  const metrics = await send(server, "GET", "/metrics", { host: new URL(server.url).host });
  return [...metrics.body.matchAll(/^coderouter_executions_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
};

// What Chrome sends for fetch(url, { method: "POST", mode: "no-cors", body }) from https://evil.example:
// a "simple" request, sent without a preflight.
const crossSiteSimple = (host: string) => ({
  host,
  origin: "https://evil.example",
  "content-type": "text/plain;charset=UTF-8",
  accept: "*/*",
  "sec-fetch-site": "cross-site",
  "sec-fetch-mode": "no-cors",
  "sec-fetch-dest": "empty",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
});

describe("what a hostile web page can make a browser send", () => {
  it("refuses a cross-site simple text/plain POST, and runs nothing", async () => {
    const server = await serve();
    const host = new URL(server.url).host;
    const answer = await send(server, "POST", "/v1/execute", crossSiteSimple(host), CODE);
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error.kind).toBe("cross_origin");
    expect(answer.headers["access-control-allow-origin"]).toBeUndefined();
    // An HTML form posts the same way; an older browser may leave out Origin but not Sec-Fetch-Site.
    const { origin: _origin, ...noOrigin } = crossSiteSimple(host);
    expect((await send(server, "POST", "/api/e2b/execute", { ...noOrigin, "content-type": "application/x-www-form-urlencoded" }, CODE)).status).toBe(403);
    expect(await executions(server)).toBe(0);
  });

  it("refuses a body that is not application/json with 415, whoever sends it", async () => {
    const server = await serve();
    const host = new URL(server.url).host;
    for (const type of ["text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
      const answer = await send(server, "POST", "/v1/execute", { host, "content-type": type }, CODE);
      expect(answer.status).toBe(415);
      expect(JSON.parse(answer.body).error.kind).toBe("unsupported_media_type");
    }
    expect((await send(server, "POST", "/v1/sessions", { host }, JSON.stringify({ language: "python" }))).status).toBe(415);
    expect(await executions(server)).toBe(0);
    const ok = await send(server, "POST", "/v1/execute", { host, "content-type": "application/json; charset=utf-8" }, CODE);
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, output: 42 });
    expect(await executions(server)).toBe(1);
  });

  it("refuses a rebinding Host: a page's own name pointed at 127.0.0.1", async () => {
    const server = await serve();
    const port = new URL(server.url).port;
    // The page at http://rebind.evil.example:PORT is same-origin with itself once its name resolves to 127.0.0.1.
    const answer = await send(
      server,
      "POST",
      "/v1/execute",
      {
        host: `rebind.evil.example:${port}`,
        origin: `http://rebind.evil.example:${port}`,
        "content-type": "application/json",
        "sec-fetch-site": "same-origin",
        "sec-fetch-mode": "cors",
      },
      CODE,
    );
    expect(answer.status).toBe(403);
    expect(JSON.parse(answer.body).error).toMatchObject({ kind: "host", message: expect.stringContaining("CODEROUTER_ALLOWED_HOSTS") });
    expect((await send(server, "GET", "/v1/runtimes", { host: `rebind.evil.example:${port}` })).status).toBe(403);
    expect(await executions(server)).toBe(0);
  });

  it("accepts IP addresses, localhost and CODEROUTER_ALLOWED_HOSTS as Host", async () => {
    const server = await serve({ allowedHosts: ["coderouter.internal"] });
    const port = new URL(server.url).port;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, `coderouter.internal:${port}`]) {
      expect((await send(server, "GET", "/healthz", { host })).status).toBe(200);
    }
    expect((await send(server, "GET", "/healthz", { host: `other.internal:${port}` })).status).toBe(403);
  });

  it("refuses a preflight from an unlisted origin, and answers CORS for a listed one", async () => {
    const preflight = (host: string, origin: string) => ({
      host,
      origin,
      "access-control-request-method": "POST",
      "access-control-request-headers": "authorization,content-type",
      "sec-fetch-mode": "cors",
      "sec-fetch-site": "cross-site",
      "sec-fetch-dest": "empty",
      accept: "*/*",
    });
    const closed = await serve();
    const closedHost = new URL(closed.url).host;
    const refused = await send(closed, "OPTIONS", "/v1/execute", preflight(closedHost, "https://evil.example"));
    expect(refused.status).toBe(403);
    expect(refused.headers["access-control-allow-origin"]).toBeUndefined();

    const open = await serve({ corsOrigins: ["https://app.example"], token: "t0ken" });
    const host = new URL(open.url).host;
    const allowed = await send(open, "OPTIONS", "/v1/execute", preflight(host, "https://app.example"));
    expect(allowed.status).toBe(204);
    expect(allowed.headers).toMatchObject({
      "access-control-allow-origin": "https://app.example",
      "access-control-allow-methods": expect.stringContaining("POST"),
    });
    expect(String(allowed.headers["access-control-allow-headers"])).toMatch(/authorization.*content-type/);
    const actual = await send(
      open,
      "POST",
      "/v1/execute",
      {
        host,
        origin: "https://app.example",
        "content-type": "application/json",
        authorization: "Bearer t0ken",
        "sec-fetch-site": "cross-site",
        "sec-fetch-mode": "cors",
      },
      CODE,
    );
    expect(actual.status).toBe(200);
    expect(actual.headers["access-control-allow-origin"]).toBe("https://app.example");
    expect(JSON.parse(actual.body).output).toBe(42);
    expect((await send(open, "OPTIONS", "/v1/execute", preflight(host, "https://evil.example"))).status).toBe(403);
  });

  it("answers 400 to a path with malformed percent-encoding", async () => {
    const server = await serve();
    const host = new URL(server.url).host;
    for (const path of ["/v1/sessions/%E0%A4%A", "/api/e2b/files/%zz/x", "/v1/sessions/%"]) {
      const answer = await send(server, "GET", path, { host });
      expect(answer.status).toBe(400);
      expect(JSON.parse(answer.body).error.message).toMatch(/malformed percent-encoding/);
    }
  });
});

describe("default isolation of the HTTP API", () => {
  // With ISOLATE_WASM=true the isolate claims only "process": whether a request asked for a sandbox shows in its reason.
  const routerEnv = { ISOLATE_WASM: "true", CODEROUTER_RUNTIMES: "isolate,wasm" };
  const explainIsolate = async (server: RunningServer, body: object) => {
    const answer = await send(server, "POST", "/v1/explain", { host: new URL(server.url).host, "content-type": "application/json" }, JSON.stringify(body));
    return (JSON.parse(answer.body) as { candidates: { runtime: string; reason: string }[] }).candidates.find((c) => c.runtime === "isolate")!.reason;
  };

  it("is sandbox when a sandbox is ready for the language; the request may ask for less", async () => {
    const server = await serve({}, routerEnv);
    expect(await explainIsolate(server, { language: "javascript", code: "1" })).toMatch(/needs at least "sandbox"/);
    expect(await explainIsolate(server, { language: "javascript", code: "1", isolation: "process" })).toMatch(/^eligible/);
  });

  it("follows CODEROUTER_DEFAULT_ISOLATION, and the library keeps its own default", async () => {
    const server = await serve({ defaultIsolation: "process" }, routerEnv);
    expect(await explainIsolate(server, { language: "javascript", code: "1" })).toMatch(/^eligible/);
    const library = createRouter({ env: routerEnv, dotenv: false });
    const decision = await library.explain({ language: "javascript", code: "1" });
    expect(decision.candidates.find((c) => c.runtime === "isolate")!.reason).toMatch(/^eligible/);
    await library.close();
  });
});

describe("bodies a hostile client sends", () => {
  it("refuses inputs nested a million deep with 400, not a 500 from a stack overflow", async () => {
    const server = await serve();
    const host = new URL(server.url).host;
    const deep = "[".repeat(1_000_000) + "]".repeat(1_000_000);
    const answer = await send(
      server,
      "POST",
      "/v1/execute",
      { host, "content-type": "application/json" },
      `{"language":"javascript","code":"1","inputs":{"a":${deep}}}`,
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body).error).toMatchObject({ kind: "validation", message: expect.stringMatching(/deeper than \d+ levels/) });
    // Brackets inside strings are text, and nesting within core's limit runs.
    const within = "[".repeat(150) + "]".repeat(150);
    const ok = await send(
      server,
      "POST",
      "/v1/execute",
      { host, "content-type": "application/json" },
      JSON.stringify({ language: "javascript", code: "a.length + s.length", inputs: { a: JSON.parse(within), s: "[".repeat(5000) } }),
    );
    expect(JSON.parse(ok.body)).toMatchObject({ ok: true, output: 5001 });
  });
});
