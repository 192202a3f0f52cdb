import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { body, json, type Faults, type SandboxRecord } from "./common.js";
import { Envd } from "./envd.js";
import { SandboxFilesystem } from "./filesystem.js";
import { Interpreter, type InterpreterStats } from "./interpreter.js";

export type { Faults } from "./common.js";

/**
 * A local E2B: the control plane (api.e2b.app) and each sandbox's services — envd on port 49983,
 * and in code-interpreter templates the interpreter on 49999 — on one loopback port, told apart
 * by the E2b-Sandbox-Id and E2b-Sandbox-Port headers the SDK sends, speaking the shapes the real
 * SDK sends and expects. Sandboxes are records with a server-side timeout and a home directory of
 * their own; a code context is a real Python or node kernel process that behaves like E2B's
 * (see interpreter.ts and kernels/); `base` sandboxes have envd only, as on E2B.
 */

export interface LocalE2BOptions {
  /** The one key the control plane accepts. */
  apiKey?: string;
  port?: number;
  /** RAM of each sandbox, modelled as address space a kernel may add to its idle footprint. */
  memoryMb?: number;
  /** Address space of an idle Python kernel, as on E2B's template (default 790 MB). */
  kernelFootprintMb?: number;
  /** How long a new code context takes to start (default 1500 ms, as measured on E2B). */
  contextDelayMs?: number;
  pythonBin?: string;
}

interface LocalSandbox extends SandboxRecord {
  startedAt: Date;
  endAt: Date;
  timer: NodeJS.Timeout;
  metadata: Record<string, string>;
  created: Record<string, string>;
  interpreter?: Interpreter;
  envd: Envd;
}

/** 0.5.7 and later take a streamed upload as a raw body (the SDK's octet-stream path for large files). */
const ENVD_VERSION = "0.5.7";
const ENVD_PORT = "49983";
const TEMPLATES = new Set(["code-interpreter-v1", "code-interpreter", "base"]);

export class LocalE2B {
  readonly apiKey: string;
  readonly faults: Faults = {};
  readonly stats: InterpreterStats & { created: number; killed: number; expired: number; maxLive: number } = {
    created: 0,
    killed: 0,
    expired: 0,
    maxLive: 0,
    executions: 0,
    maxExecutionsInOneSandbox: 0,
    contextsCreated: 0,
    contextsDeleted: 0,
    streamsAborted: 0,
  };
  /** The start of each executed cell's code, in order, for tests that count what was sent. */
  readonly cells: string[] = [];
  /** Context start-up time; tests that make many contexts lower it. */
  contextDelayMs: number;
  private readonly sandboxes = new Map<string, LocalSandbox>();
  private readonly server: Server;
  url = "";

  constructor(private readonly options: LocalE2BOptions = {}) {
    this.apiKey = options.apiKey ?? `e2b_local_${randomBytes(8).toString("hex")}`;
    this.contextDelayMs = options.contextDelayMs ?? 1500;
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: Error) => {
        if (!res.headersSent) json(res, 500, { code: 500, message: error.message });
        else res.destroy();
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.options.port ?? 0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** What the SDK (and coderouter's E2B runtime) needs to talk to this server instead of E2B. */
  env(): Record<string, string> {
    return { E2B_API_KEY: this.apiKey, E2B_API_URL: this.url, E2B_SANDBOX_URL: this.url };
  }

  /** Sandboxes alive now. */
  live(): string[] {
    return [...this.sandboxes.keys()];
  }

  async close(): Promise<void> {
    for (const id of [...this.sandboxes.keys()]) this.kill(id);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", this.url);
    const path = url.pathname;
    const sandboxHeader = req.headers["e2b-sandbox-id"];
    if (typeof sandboxHeader === "string") return this.sandboxPlane(sandboxHeader, String(req.headers["e2b-sandbox-port"] ?? ""), req, res, url);

    if (req.headers["x-api-key"] !== this.apiKey) return json(res, 401, { code: 401, message: "Invalid API key" });
    const match = /^\/sandboxes\/([^/]+)(\/timeout)?$/.exec(path);
    if (req.method === "POST" && path === "/v2/sandboxes") return this.create(await body(req), res);
    if (req.method === "POST" && path === "/sandboxes") return this.create(await body(req), res);
    if (req.method === "GET" && (path === "/v2/sandboxes" || path === "/sandboxes")) {
      // ?metadata=key%3Dvalue%26…: the SDK's filter, one URL-encoded query string of pairs.
      const wanted = [...new URLSearchParams(url.searchParams.get("metadata") ?? "")];
      const matching = [...this.sandboxes.values()].filter((s) => wanted.every(([k, v]) => s.metadata[k] === v));
      return json(res, 200, matching.map(describe));
    }
    if (match) {
      const sandbox = this.sandboxes.get(match[1]!);
      if (!sandbox) return json(res, 404, { code: 404, message: `sandbox "${match[1]}" not found` });
      if (req.method === "GET" && !match[2]) return json(res, 200, describe(sandbox));
      if (req.method === "DELETE" && !match[2]) {
        this.kill(sandbox.sandboxID);
        return void res.writeHead(204).end();
      }
      if (req.method === "POST" && match[2]) {
        const { timeout } = (await body(req)) as { timeout?: number };
        this.schedule(sandbox, (timeout ?? 15) * 1000);
        return void res.writeHead(204).end();
      }
    }
    json(res, 404, { code: 404, message: `no route for ${req.method} ${path}` });
  }

  private async create(request: Record<string, unknown>, res: ServerResponse): Promise<void> {
    if (this.faults.createDelayMs) await new Promise((resolve) => setTimeout(resolve, this.faults.createDelayMs));
    const fault = this.faults.createStatus;
    if (fault && fault.times > 0) {
      fault.times--;
      const messages: Record<number, string> = { 401: "Invalid API key", 429: "Rate limit exceeded", 503: "Service unavailable" };
      return json(res, fault.status, { code: fault.status, message: messages[fault.status] ?? "Internal server error" });
    }
    const templateID = String(request.templateID ?? "base");
    if (!TEMPLATES.has(templateID)) return json(res, 404, { code: 404, message: `template "${templateID}" not found` });
    const sandboxID = `i${randomBytes(10).toString("hex")}`;
    const created = (request.envVars as Record<string, string> | undefined) ?? {};
    const sandbox: LocalSandbox = {
      sandboxID,
      templateID,
      fs: new SandboxFilesystem(),
      // envd's defaults: E2B_SANDBOX and the ids from the host (mmds), then the creation's variables.
      envs: () => ({ E2B_SANDBOX: "true", E2B_SANDBOX_ID: sandboxID, E2B_TEMPLATE_ID: templateID, ...created }),
      faults: this.faults,
      running: 0,
      startedAt: new Date(),
      endAt: new Date(),
      timer: setTimeout(() => {}, 0),
      metadata: (request.metadata as Record<string, string> | undefined) ?? {},
      created,
      envd: undefined as unknown as Envd,
    };
    sandbox.envd = new Envd(sandbox);
    if (templateID !== "base") {
      sandbox.interpreter = new Interpreter(
        sandbox,
        {
          pythonBin: this.options.pythonBin ?? "/usr/bin/python3",
          memoryMb: this.options.memoryMb ?? 1024,
          kernelFootprintMb: this.options.kernelFootprintMb ?? 790,
          contextDelayMs: () => this.contextDelayMs,
        },
        this.stats,
        this.cells,
      );
    }
    this.schedule(sandbox, (Number(request.timeout) || 15) * 1000);
    this.sandboxes.set(sandbox.sandboxID, sandbox);
    this.stats.created++;
    this.stats.maxLive = Math.max(this.stats.maxLive, this.sandboxes.size);
    json(res, 201, { sandboxID, templateID, clientID: "local", envdVersion: ENVD_VERSION, domain: null });
  }

  /** The server-side timeout: a sandbox nobody extends is killed, as E2B does. */
  private schedule(sandbox: LocalSandbox, ms: number): void {
    clearTimeout(sandbox.timer);
    sandbox.endAt = new Date(Date.now() + ms);
    sandbox.timer = setTimeout(() => {
      this.stats.expired++;
      this.kill(sandbox.sandboxID, false);
    }, ms);
    sandbox.timer.unref();
  }

  private kill(id: string, counted = true): void {
    const sandbox = this.sandboxes.get(id);
    if (!sandbox) return;
    clearTimeout(sandbox.timer);
    sandbox.interpreter?.close();
    sandbox.envd.close();
    sandbox.fs.remove();
    this.sandboxes.delete(id);
    if (counted) this.stats.killed++;
  }

  private async sandboxPlane(id: string, port: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const sandbox = this.sandboxes.get(id);
    // E2B's edge answers 502 for a sandbox that is gone; the SDK reads it as "not running".
    if (!sandbox) return void res.writeHead(502, { "content-type": "text/plain" }).end(`The sandbox ${id} was not found`);
    if (port === ENVD_PORT) return sandbox.envd.route(req, res, url);
    if (!sandbox.interpreter) return void res.writeHead(502, { "content-type": "text/plain" }).end(`port ${port} is not open in this sandbox`);
    return sandbox.interpreter.route(req, res, url.pathname);
  }
}

function describe(sandbox: LocalSandbox): Record<string, unknown> {
  return {
    sandboxID: sandbox.sandboxID,
    templateID: sandbox.templateID,
    clientID: "local",
    startedAt: sandbox.startedAt.toISOString(),
    endAt: sandbox.endAt.toISOString(),
    cpuCount: 2,
    memoryMB: 512,
    diskSizeMB: 1024,
    metadata: sandbox.metadata,
    state: "running",
    envdVersion: ENVD_VERSION,
  };
}
