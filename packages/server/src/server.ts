import { timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import {
  ConfigError,
  NoRuntimeAvailableError,
  readSettings,
  RuntimeUnavailableError,
  SessionClosedError,
  setting,
  ValidationError,
  type ExecutionResult,
  type Router,
  type Session,
  type SessionRequest,
} from "coderouter";
import { Gate } from "./gate.js";
import { Metrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";

export const ServerSettingsSchema = z.object({
  host: setting.string().default("127.0.0.1"),
  port: setting.int(0, 65_535).default(8787),
  token: setting.string().optional(),
  bodyLimitBytes: setting.int(1024).default(10 * 1024 * 1024),
  concurrency: setting.int(1, 10_000).default(32),
  queue: setting.int(0, 100_000).default(256),
  shutdownTimeoutMs: setting.int(0).default(10_000),
});
export type ServerSettings = z.output<typeof ServerSettingsSchema>;

export const SERVER_ENV = {
  CODEROUTER_HOST: "host",
  CODEROUTER_PORT: "port",
  CODEROUTER_API_TOKEN: "token",
  CODEROUTER_BODY_LIMIT_BYTES: "bodyLimitBytes",
  CODEROUTER_CONCURRENCY: "concurrency",
  CODEROUTER_QUEUE: "queue",
  CODEROUTER_SHUTDOWN_TIMEOUT_MS: "shutdownTimeoutMs",
} as const;

export interface RunningServer {
  url: string;
  /** Stops accepting, lets running work finish up to the deadline, ends the rest, closes the router. */
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: object,
    readonly headers: Record<string, string> = {},
  ) {
    super(JSON.stringify(body));
  }
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/**
 * The HTTP API over a router: JSON in, the ExecutionResult out (or a stream of output events and
 * then the result, as NDJSON). Safe by default: a bearer token is required beyond loopback, bodies
 * are bounded, work is bounded by a concurrency limit with a queue, and shutdown is graceful.
 */
export async function startServer(router: Router, overrides: Partial<ServerSettings> = {}, env = process.env): Promise<RunningServer> {
  const settings = readSettings(ServerSettingsSchema, SERVER_ENV, env, overrides);
  if (!LOOPBACK.has(settings.host) && !settings.token) {
    throw new ConfigError(
      `CODEROUTER_API_TOKEN is required to listen on ${settings.host}, beyond loopback: set it, or listen on 127.0.0.1`,
      "CODEROUTER_API_TOKEN",
    );
  }
  const metrics = new Metrics();
  const gate = new Gate(settings.concurrency, settings.queue);
  const running = new Set<AbortController>();
  let stopping = false;

  const server = createServer((req, res) => {
    handle(req, res).catch((error) => {
      const failure = error instanceof HttpError ? error : toHttpError(error);
      if (!res.headersSent) send(res, failure.status, failure.body, failure.headers);
      else res.end();
    });
  });

  const send = (res: ServerResponse, status: number, body: object | string, headers: Record<string, string> = {}) => {
    metrics.recordResponse(status);
    const text = typeof body === "string" ? body : JSON.stringify(body);
    res.writeHead(status, {
      "content-type": typeof body === "string" ? "text/plain; version=0.0.4" : "application/json",
      "content-length": Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = `${req.method} ${url.pathname}`;
    if (route === "GET /healthz") return send(res, stopping ? 503 : 200, { ok: !stopping });
    authorize(req);
    switch (route) {
      case "GET /openapi.json":
        return send(res, 200, openApiDocument());
      case "GET /v1/runtimes":
        return send(res, 200, { runtimes: await router.runtimes() });
      case "GET /metrics":
        return send(
          res,
          200,
          metrics.render({
            coderouter_requests_in_flight: { help: "Executions running now.", value: gate.inFlight },
            coderouter_requests_queued: { help: "Executions waiting for a slot.", value: gate.queued },
            coderouter_sessions_open: { help: "Sessions open now.", value: router.sessions().length },
          }, await router.poolSizes()),
        );
      case "POST /v1/explain":
        return send(res, 200, await router.explain((await readJson(req)) as Parameters<Router["explain"]>[0]));
      case "POST /v1/execute":
        return execute(req, res, await readJson(req));
      case "POST /api/e2b/execute": {
        // The seed's route: { code, language, session_id? } with the same answer as /v1/execute.
        const { session_id: sessionId, ...rest } = (await readJson(req)) as Record<string, unknown>;
        if (typeof sessionId === "string") {
          const session = router.session(sessionId);
          return execute(req, res, rest, (options) => session.execute(rest.code as string, { inputs: rest.inputs, ...options } as never));
        }
        return execute(req, res, rest);
      }
      case "GET /v1/sessions":
        return send(res, 200, { sessions: router.sessions() });
      case "POST /v1/sessions": {
        const session = await router.openSession((await readJson(req)) as SessionRequest);
        return send(res, 201, session.info());
      }
      case "POST /api/sessions": {
        // The seed's route: { agent, environment: "e2b-python", provider }; the language comes from the environment.
        const body = (await readJson(req)) as { environment?: string; language?: string };
        const language = body.language ?? (/node|js|javascript/i.test(body.environment ?? "") ? "javascript" : "python");
        const session = await router.openSession({ language: language as SessionRequest["language"] });
        return send(res, 201, { ...session.info(), session_id: session.id });
      }
      case "POST /api/e2b/files": {
        // The seed's route: { session_id, file_path, content (base64) }.
        const body = (await readJson(req)) as { session_id?: string; file_path?: string; content?: string };
        if (!body.session_id || !body.file_path || typeof body.content !== "string") {
          throw new HttpError(400, { error: { kind: "validation", message: "session_id, file_path and content (base64) are required", issues: [] } });
        }
        await router.session(body.session_id).files.write(body.file_path.replace(/^\/workspace\/?/, ""), Buffer.from(body.content, "base64"));
        return send(res, 200, { path: body.file_path, written: true });
      }
    }
    const session = url.pathname.match(/^\/v1\/sessions\/([^/]+)(\/execute|\/files)?$/);
    if (session) return sessionRoute(req, res, decodeURIComponent(session[1]!), session[2] ?? "", url);
    const seedFiles = url.pathname.match(/^\/api\/e2b\/files\/([^/]+)(?:\/(.+))?$/);
    if (seedFiles && req.method === "GET") {
      // The seed's file routes: GET /api/e2b/files/:id?directory=… lists, /api/e2b/files/:id/<path> reads.
      const target = seedFiles[2] ? decodeURIComponent(seedFiles[2]) : (url.searchParams.get("directory") ?? ".");
      return fileRoute(req, res, router.session(decodeURIComponent(seedFiles[1]!)), seedFiles[2] ? "GET" : "LIST", target);
    }
    throw new HttpError(404, { error: { kind: "not_found", message: `no route for ${route}` } });
  }

  async function sessionRoute(req: IncomingMessage, res: ServerResponse, id: string, sub: string, url: URL): Promise<void> {
    const session = router.session(id);
    if (sub === "" && req.method === "GET") return send(res, 200, session.info());
    if (sub === "" && req.method === "DELETE") {
      await session.close();
      return send(res, 200, { id, closed: true });
    }
    if (sub === "/execute" && req.method === "POST") {
      const body = (await readJson(req)) as { code?: unknown; inputs?: unknown; timeoutMs?: unknown };
      return execute(req, res, body, (options) => session.execute(body.code as string, { inputs: body.inputs, timeoutMs: body.timeoutMs, ...options } as never));
    }
    if (sub === "/files") {
      const path = url.searchParams.get("path");
      if (req.method === "PUT") return fileRoute(req, res, session, "PUT", requirePath(path));
      if (req.method === "DELETE") return fileRoute(req, res, session, "DELETE", requirePath(path));
      if (req.method === "GET") return fileRoute(req, res, session, path === null ? "LIST" : "GET", path ?? ".");
    }
    throw new HttpError(405, { error: { kind: "method_not_allowed", message: `${req.method} is not allowed on ${url.pathname}` } });
  }

  async function fileRoute(req: IncomingMessage, res: ServerResponse, session: Session, op: "GET" | "LIST" | "PUT" | "DELETE", path: string): Promise<void> {
    switch (op) {
      case "LIST":
        return send(res, 200, { path, entries: await session.files.list(path) });
      case "GET": {
        const data = await session.files.read(path);
        metrics.recordResponse(200);
        res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
        res.end(data);
        return;
      }
      case "PUT":
        await session.files.write(path, await readBody(req));
        return send(res, 200, { path, written: true });
      case "DELETE":
        await session.files.remove(path);
        return send(res, 200, { path, removed: true });
    }
  }

  function requirePath(path: string | null): string {
    if (!path) throw new HttpError(400, { error: { kind: "validation", message: "the path query parameter is required", issues: [{ path: "path", message: "required" }] } });
    return path;
  }

  function authorize(req: IncomingMessage): void {
    if (!settings.token) return;
    const given = Buffer.from(req.headers.authorization?.replace(/^Bearer\s+/i, "") ?? "");
    const expected = Buffer.from(settings.token);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new HttpError(401, { error: { kind: "unauthorized", message: "send Authorization: Bearer <CODEROUTER_API_TOKEN>" } }, {
        "www-authenticate": "Bearer",
      });
    }
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > settings.bodyLimitBytes) {
        throw new HttpError(413, { error: { kind: "too_large", message: `the body is larger than ${settings.bodyLimitBytes} bytes (CODEROUTER_BODY_LIMIT_BYTES)` } });
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const body = await readBody(req);
    try {
      return JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw new HttpError(400, { error: { kind: "validation", message: `the body is not JSON: ${(error as Error).message}`, issues: [] } });
    }
  }

  type Run = (options: { signal: AbortSignal; onStdout?: (data: string) => void; onStderr?: (data: string) => void }) => Promise<ExecutionResult>;

  async function execute(req: IncomingMessage, res: ServerResponse, body: unknown, run?: Run): Promise<void> {
    if (stopping) throw new HttpError(503, { error: { kind: "stopping", message: "the server is shutting down" } });
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new HttpError(400, { error: { kind: "validation", message: "the body must be a JSON object", issues: [] } });
    }
    const release = await gate.enter();
    if (!release) {
      throw new HttpError(429, { error: { kind: "busy", message: "too many executions are running or queued; retry shortly" } }, { "retry-after": "1" });
    }
    const abort = new AbortController();
    running.add(abort);
    // A client that goes away takes its execution with it.
    res.once("close", () => {
      if (!res.writableFinished) abort.abort();
    });
    const streaming = (req.headers.accept ?? "").includes("application/x-ndjson");
    const line = (event: object) => res.write(`${JSON.stringify(event)}\n`);
    try {
      if (streaming) {
        res.writeHead(200, { "content-type": "application/x-ndjson" });
        metrics.recordResponse(200);
      }
      let result: ExecutionResult;
      const options = {
        signal: abort.signal,
        ...(streaming
          ? { onStdout: (data: string) => line({ type: "stdout", data }), onStderr: (data: string) => line({ type: "stderr", data }) }
          : {}),
      };
      try {
        result = run ? await run(options) : await router.execute({ ...(body as object), ...options } as Parameters<Router["execute"]>[0]);
      } catch (error) {
        if (!streaming) throw error;
        const failure = toHttpError(error);
        line({ type: "error", status: failure.status, ...failure.body });
        res.end();
        return;
      }
      metrics.recordExecution(result.runtime, result.ok ? "ok" : (result.error?.kind ?? "error"), result.metadata.durationMs / 1000);
      if (streaming) {
        line({ type: "result", result });
        res.end();
      } else {
        send(res, 200, result);
      }
    } finally {
      running.delete(abort);
      release();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      stopping = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + settings.shutdownTimeoutMs;
      while (running.size && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      for (const abort of running) abort.abort();
      while (running.size) await new Promise((resolve) => setTimeout(resolve, 20));
      server.closeAllConnections();
      await closed;
      await router.close();
    },
  };
}

/** Library errors as HTTP answers: what the caller did wrong is 4xx, what no runtime could do is 503. */
function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof ValidationError) {
    return new HttpError(400, { error: { kind: error.kind, message: error.message, issues: error.issues } });
  }
  if (error instanceof SessionClosedError) {
    return new HttpError(404, { error: { kind: error.kind, message: error.message } });
  }
  if (error instanceof NoRuntimeAvailableError || error instanceof RuntimeUnavailableError) {
    return new HttpError(503, { error: { kind: error.kind, message: error.message, routing: error.decision } });
  }
  const e = error as Error;
  return new HttpError(500, { error: { kind: "internal", message: e.message ?? String(error) } });
}
