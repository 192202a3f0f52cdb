import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";

/**
 * A local E2B: the control plane (api.e2b.app) and the in-sandbox services (envd on :49983, the
 * code interpreter on :49999) on one loopback port, speaking the JSON shapes the real SDK sends
 * and expects. Sandboxes are records with a server-side timeout; a code context is a real Python
 * or node kernel process; executions stream NDJSON like the code interpreter. Faults can be
 * injected to test what the client does when the service misbehaves.
 */

export interface LocalE2BOptions {
  /** The one key the control plane accepts. */
  apiKey?: string;
  port?: number;
  /** RAM of each sandbox: kernels get this address-space (Python) or heap (node) cap. */
  memoryMb?: number;
  pythonBin?: string;
}

export interface Faults {
  /** Answer the next `times` creates with this status (401, 429, 500, 503…). */
  createStatus?: { status: number; times: number };
  /** Delay every create by this long. */
  createDelayMs?: number;
  /** Cut the stream of the next execution whose code contains `match` after this many messages. */
  dropStream?: { after: number; match: string };
  /** The next execution whose code contains this is accepted and never answered. */
  hangExecution?: string;
}

interface Context {
  id: string;
  language: string;
  cwd: string;
  kernel: ChildProcess;
  /** Receives the kernel's messages for the execution running now. */
  listener?: (message: Record<string, unknown>) => void;
  exit?: string;
}

interface LocalSandbox {
  sandboxID: string;
  templateID: string;
  startedAt: Date;
  endAt: Date;
  timer: NodeJS.Timeout;
  contexts: Map<string, Context>;
  envs: Record<string, string>;
  metadata: Record<string, string>;
  running: number;
}

const KERNELS = fileURLToPath(new URL("./kernels/", import.meta.url));
const ENVD_VERSION = "0.2.0";
const TEMPLATES = new Set(["code-interpreter-v1", "code-interpreter", "base"]);

export class LocalE2B {
  readonly apiKey: string;
  readonly faults: Faults = {};
  readonly stats = { created: 0, killed: 0, expired: 0, executions: 0, maxLive: 0, maxExecutionsInOneSandbox: 0 };
  private readonly sandboxes = new Map<string, LocalSandbox>();
  private readonly server: Server;
  private readonly memoryMb: number;
  private readonly pythonBin: string;
  url = "";

  constructor(private readonly options: LocalE2BOptions = {}) {
    this.apiKey = options.apiKey ?? `e2b_local_${randomBytes(8).toString("hex")}`;
    this.memoryMb = options.memoryMb ?? 512;
    this.pythonBin = options.pythonBin ?? "/usr/bin/python3";
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
    if (typeof sandboxHeader === "string") return this.sandboxPlane(sandboxHeader, req, res, path);

    if (req.headers["x-api-key"] !== this.apiKey) return json(res, 401, { code: 401, message: "Invalid API key" });
    const match = /^\/sandboxes\/([^/]+)(\/timeout)?$/.exec(path);
    if (req.method === "POST" && path === "/v2/sandboxes") return this.create(await body(req), res);
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
    const sandbox: LocalSandbox = {
      sandboxID: `i${randomBytes(10).toString("hex")}`,
      templateID,
      startedAt: new Date(),
      endAt: new Date(),
      timer: setTimeout(() => {}, 0),
      contexts: new Map(),
      envs: (request.envVars as Record<string, string> | undefined) ?? {},
      metadata: (request.metadata as Record<string, string> | undefined) ?? {},
      running: 0,
    };
    this.schedule(sandbox, (Number(request.timeout) || 15) * 1000);
    this.sandboxes.set(sandbox.sandboxID, sandbox);
    this.stats.created++;
    this.stats.maxLive = Math.max(this.stats.maxLive, this.sandboxes.size);
    json(res, 201, { sandboxID: sandbox.sandboxID, templateID, clientID: "local", envdVersion: ENVD_VERSION, domain: null });
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
    for (const context of sandbox.contexts.values()) stopKernel(context);
    this.sandboxes.delete(id);
    if (counted) this.stats.killed++;
  }

  private async sandboxPlane(id: string, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const sandbox = this.sandboxes.get(id);
    // E2B's edge answers 502 for a sandbox that is gone; the SDK reads it as "not running".
    if (!sandbox) return void res.writeHead(502, { "content-type": "text/plain" }).end(`The sandbox ${id} was not found`);
    const interpreter = sandbox.templateID !== "base";
    if (req.method === "GET" && path === "/health") return void res.writeHead(204).end();
    if (!interpreter) return void res.writeHead(502, { "content-type": "text/plain" }).end("port 49999 is not open in this sandbox");
    if (req.method === "POST" && path === "/contexts") {
      const { language, cwd } = (await body(req)) as { language?: string; cwd?: string };
      const context = this.startKernel(sandbox, language ?? "python", cwd ?? "/home/user");
      return json(res, 200, { id: context.id, language: context.language, cwd: context.cwd });
    }
    if (req.method === "GET" && path === "/contexts") {
      return json(res, 200, [...sandbox.contexts.values()].map(({ id: cid, language, cwd }) => ({ id: cid, language, cwd })));
    }
    const contextMatch = /^\/contexts\/([^/]+)$/.exec(path);
    if (req.method === "DELETE" && contextMatch) {
      const context = sandbox.contexts.get(contextMatch[1]!);
      if (!context) return void res.writeHead(404).end(`context ${contextMatch[1]} not found`);
      stopKernel(context);
      sandbox.contexts.delete(context.id);
      return void res.writeHead(204).end();
    }
    if (req.method === "POST" && path === "/execute") return this.execute(sandbox, (await body(req)) as unknown as ExecuteBody, res);
    res.writeHead(404).end(`no route for ${req.method} ${path}`);
  }

  private startKernel(sandbox: LocalSandbox, language: string, cwd: string): Context {
    const bytes = this.memoryMb * 1024 * 1024;
    const python = language === "python";
    const command = python ? "prlimit" : process.execPath;
    const args = python
      ? [`--as=${bytes}`, this.pythonBin, "-u", `${KERNELS}python_kernel.py`]
      : [`--max-old-space-size=${this.memoryMb}`, `${KERNELS}node_kernel.cjs`];
    const kernel = spawn(command, args, {
      // The sandbox's own environment: nothing of the host's but what a process needs to start.
      // A sandbox's Python is its user's to install into, as in E2B's own image.
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", PIP_BREAK_SYSTEM_PACKAGES: "1", ...sandbox.envs },
      cwd: "/tmp",
      detached: true,
      stdio: ["pipe", "pipe", "pipe", "pipe"],
    });
    const context: Context = { id: randomUUID(), language, cwd, kernel };
    createInterface({ input: kernel.stdio[3] as NodeJS.ReadableStream, crlfDelay: Infinity }).on("line", (line) => {
      context.listener?.(JSON.parse(line) as Record<string, unknown>);
    });
    // What the kernel's process (or anything it started) writes to its real stdout and stderr.
    kernel.stdout!.on("data", (chunk: Buffer) => context.listener?.({ type: "stdout", text: chunk.toString() }));
    let stderrTail = "";
    kernel.stderr!.on("data", (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4096);
      context.listener?.({ type: "stderr", text: chunk.toString() });
    });
    kernel.stdin!.on("error", () => {});
    kernel.on("exit", (code, signal) => {
      const oom = /out of memory|MemoryError|Cannot allocate/i.test(stderrTail);
      context.exit = `the kernel died (${signal ?? `exit ${code}`})${oom ? ": out of memory" : ""}`;
      context.listener?.({ type: "died", message: context.exit });
    });
    sandbox.contexts.set(context.id, context);
    return context;
  }

  /** The start of each executed cell's code, in order, for tests that count what was sent. */
  readonly cells: string[] = [];

  private execute(sandbox: LocalSandbox, request: ExecuteBody, res: ServerResponse): void {
    this.stats.executions++;
    this.cells.push(request.code.slice(0, 40));
    let context: Context | undefined;
    if (request.context_id) {
      context = sandbox.contexts.get(request.context_id);
      if (!context) return void res.writeHead(404).end(`context ${request.context_id} not found`);
    } else {
      const language = request.language ?? "python";
      context = [...sandbox.contexts.values()].find((c) => c.language === language && c.cwd === "default");
      context ??= this.startKernel(sandbox, language, "default");
    }
    res.writeHead(200, { "content-type": "application/x-ndjson" });
    sandbox.running++;
    this.stats.maxExecutionsInOneSandbox = Math.max(this.stats.maxExecutionsInOneSandbox, sandbox.running);
    res.on("close", () => sandbox.running--);
    if (this.faults.hangExecution !== undefined && request.code.includes(this.faults.hangExecution)) {
      this.faults.hangExecution = undefined;
      return;
    }
    let dropAfter: number | undefined;
    if (this.faults.dropStream && request.code.includes(this.faults.dropStream.match)) {
      dropAfter = this.faults.dropStream.after;
      this.faults.dropStream = undefined;
    }
    const write = (message: Record<string, unknown>) => {
      if (res.destroyed) return;
      res.write(JSON.stringify(message) + "\n");
      if (dropAfter !== undefined && --dropAfter <= 0) res.destroy();
    };
    const finish = () => {
      if (context.listener === listener) context.listener = undefined;
      if (!res.destroyed) res.end();
    };
    const listener = (message: Record<string, unknown>) => {
      const timestamp = new Date().toISOString();
      switch (message.type) {
        case "stdout":
        case "stderr":
          return write({ type: message.type, text: message.text, timestamp });
        case "number_of_executions":
          return write(message);
        case "result":
          return write(resultMessage(message));
        case "error":
          return write({ type: "error", name: message.name, value: message.value, traceback: message.traceback });
        case "died":
          write({ type: "error", name: "DeadKernelError", value: message.message, traceback: "" });
          write({ type: "end_of_execution" });
          return finish();
        case "end":
          write({ type: "end_of_execution" });
          return finish();
      }
    };
    if (context.exit) {
      listener({ type: "died", message: context.exit });
      return;
    }
    context.listener = listener;
    res.on("close", () => {
      if (context.listener === listener) context.listener = undefined;
    });
    context.kernel.stdin!.write(JSON.stringify({ code: request.code, env: request.env_vars ?? {} }) + "\n");
  }
}

interface ExecuteBody {
  code: string;
  context_id?: string;
  language?: string;
  env_vars?: Record<string, string>;
}

/** A kernel's MIME bundle in the code interpreter's result shape. */
function resultMessage(message: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, string> = {
    "text/plain": "text",
    "text/html": "html",
    "text/markdown": "markdown",
    "image/svg+xml": "svg",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "application/pdf": "pdf",
    "text/latex": "latex",
    "application/json": "json",
    "application/javascript": "javascript",
  };
  const out: Record<string, unknown> = { type: "result", is_main_result: message.is_main_result };
  for (const [mime, field] of Object.entries(fields)) if (message[mime] !== undefined) out[field] = message[mime];
  return out;
}

function stopKernel(context: Context): void {
  context.listener?.({ type: "died", message: "the sandbox was killed" });
  try {
    process.kill(-context.kernel.pid!, "SIGKILL");
  } catch {
    // Already gone.
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

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}
