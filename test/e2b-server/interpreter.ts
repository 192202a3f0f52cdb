import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { body, json, type SandboxRecord } from "./common.js";
import { killMarked, SANDBOX_MARK } from "./envd.js";
import { HOME } from "./filesystem.js";

/**
 * The code interpreter of one sandbox (E2B's template/server on port 49999), as the real one
 * behaves: a context is a kernel started through Jupyter, which takes seconds (`contextDelayMs`);
 * the first execution in a context gets the sandbox's environment (envd's /envs) prepended as
 * assignment lines, and a request's `env_vars` are spliced the same way with naive quoting, then
 * removed by a background cell; results stream as JSON lines, with a keepalive every 5 s of
 * silence; a client that leaves mid-execution gets the kernel interrupted.
 */

const KERNELS = fileURLToPath(new URL("./kernels/", import.meta.url));
const KEEPALIVE_MS = 5000;

export interface InterpreterOptions {
  pythonBin: string;
  /** Physical memory of the sandbox, modelled as address space on top of the kernel's own footprint. */
  memoryMb: number;
  /** Address space a kernel uses when idle (about 790 MB on E2B's template). */
  kernelFootprintMb: number;
  /** Time a new context takes to be ready (a Jupyter session, its websocket, the cd cell). */
  contextDelayMs: () => number;
}

export interface InterpreterStats {
  executions: number;
  maxExecutionsInOneSandbox: number;
  contextsCreated: number;
  contextsDeleted: number;
  /** Executions whose client closed the stream before the end. */
  streamsAborted: number;
}

interface Kernel {
  id: string;
  language: string;
  cwd: string;
  process: ChildProcess;
  /** Whether the sandbox's environment was already given to this context (the real server's _global_env_vars). */
  globalEnvsSent: boolean;
  listeners: Map<string, (message: Record<string, unknown>) => void>;
  /** Serializes executions, as the real server's per-context lock does. */
  lock: Promise<void>;
  exit?: string;
}

interface ExecuteBody {
  code: string;
  context_id?: string;
  language?: string;
  env_vars?: Record<string, string>;
}

export class Interpreter {
  private readonly kernels = new Map<string, Kernel>();
  private readonly defaults = new Map<string, string>();

  constructor(
    private readonly sandbox: SandboxRecord,
    private readonly options: InterpreterOptions,
    private readonly stats: InterpreterStats,
    /** The start of each executed cell, in order, for tests that look at what reached the kernel. */
    private readonly cells: string[],
  ) {}

  async route(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (req.method === "GET" && path === "/health") return json(res, 200, "OK");
    if (req.method === "POST" && path === "/contexts") {
      const { language, cwd } = (await body(req)) as { language?: string; cwd?: string };
      const kernel = await this.start(normalize(language), cwd ?? HOME);
      return json(res, 200, describe(kernel));
    }
    if (req.method === "GET" && path === "/contexts") return json(res, 200, [...this.kernels.values()].map(describe));
    const match = /^\/contexts\/([^/]+)$/.exec(path);
    if (req.method === "DELETE" && match) {
      const kernel = this.kernels.get(match[1]!);
      if (!kernel) return void res.writeHead(404).end(`Context ${match[1]} not found`);
      stop(kernel, "the context was removed");
      this.kernels.delete(kernel.id);
      this.stats.contextsDeleted++;
      return void res.writeHead(200).end("null");
    }
    if (req.method === "POST" && path === "/execute") return this.execute((await body(req)) as unknown as ExecuteBody, res);
    res.writeHead(404).end(`no route for ${req.method} ${path}`);
  }

  close(): void {
    for (const kernel of this.kernels.values()) stop(kernel, "the sandbox was killed");
    this.kernels.clear();
    killMarked(this.sandbox.sandboxID);
  }

  private async start(language: string, cwd: string): Promise<Kernel> {
    await new Promise((resolve) => setTimeout(resolve, this.options.contextDelayMs()));
    const python = language === "python";
    const { memoryMb, kernelFootprintMb } = this.options;
    const command = python ? "prlimit" : process.execPath;
    const args = python
      ? [`--as=${(memoryMb + kernelFootprintMb) * 1024 * 1024}`, this.options.pythonBin, "-u", `${KERNELS}python_kernel.py`]
      : [`--max-old-space-size=${memoryMb}`, `${KERNELS}node_kernel.cjs`];
    const child = this.sandbox.fs.spawn(command, args, {
      // A kernel inherits the sandbox's process environment, not the host's; a sandbox's Python is
      // its user's to install into, as in E2B's own image.
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        PIP_BREAK_SYSTEM_PACKAGES: "1",
        E2B_LOCAL_KERNEL_FOOTPRINT_MB: String(kernelFootprintMb),
        [SANDBOX_MARK]: this.sandbox.sandboxID,
      },
      cwd,
      detached: true,
      stdio: ["pipe", "pipe", "pipe", "pipe"],
    });
    const kernel: Kernel = { id: randomUUID(), language, cwd, process: child, globalEnvsSent: false, listeners: new Map(), lock: Promise.resolve() };
    const dispatch = (message: Record<string, unknown>) => {
      if (typeof message.cell === "string") kernel.listeners.get(message.cell)?.(message);
      else for (const listener of kernel.listeners.values()) listener(message);
    };
    createInterface({ input: child.stdio[3] as NodeJS.ReadableStream, crlfDelay: Infinity }).on("line", (line) => dispatch(JSON.parse(line)));
    // What the kernel's process (or anything it started) writes to its real stdout and stderr.
    child.stdout!.on("data", (chunk: Buffer) => dispatch({ type: "stdout", text: chunk.toString() }));
    let stderrTail = "";
    child.stderr!.on("data", (chunk: Buffer) => {
      stderrTail = (stderrTail + chunk.toString()).slice(-4096);
      dispatch({ type: "stderr", text: chunk.toString() });
    });
    child.stdin!.on("error", () => {});
    // The sandbox went while the kernel was starting (its home is gone).
    child.on("error", (error) => (kernel.exit ??= `the kernel could not start: ${error.message}`));
    child.on("exit", (code, signal) => {
      const oom = /out of memory|MemoryError|Cannot allocate/i.test(stderrTail);
      kernel.exit ??= `the kernel died (${signal ?? `exit ${code}`})${oom ? ": out of memory" : ""}`;
      dispatch({ type: "died", message: kernel.exit });
    });
    this.kernels.set(kernel.id, kernel);
    this.stats.contextsCreated++;
    return kernel;
  }

  private async execute(request: ExecuteBody, res: ServerResponse): Promise<void> {
    if (request.context_id && request.language) return void res.writeHead(400).end("Only one of context_id or language can be provided");
    let kernel: Kernel | undefined;
    if (request.context_id) kernel = this.kernels.get(request.context_id);
    else {
      const language = normalize(request.language);
      const id = this.defaults.get(language);
      kernel = id ? this.kernels.get(id) : undefined;
      if (!kernel) {
        kernel = await this.start(language, HOME);
        this.defaults.set(language, kernel.id);
      }
    }
    if (!kernel) return void res.writeHead(404).end(`Context ${request.context_id} not found`);
    this.stats.executions++;
    this.sandbox.running++;
    this.stats.maxExecutionsInOneSandbox = Math.max(this.stats.maxExecutionsInOneSandbox, this.sandbox.running);
    res.on("close", () => this.sandbox.running--);
    // Starlette sends a streaming response's headers before its first item.
    res.writeHead(200, { "content-type": "application/json" }).flushHeaders();
    const previous = kernel.lock;
    let release = () => {};
    kernel.lock = new Promise((resolve) => (release = resolve));
    await previous;
    try {
      await this.stream(kernel, request, res);
    } finally {
      release();
    }
  }

  private async stream(kernel: Kernel, request: ExecuteBody, res: ServerResponse): Promise<void> {
    const envLines: string[] = [];
    if (!kernel.globalEnvsSent) {
      kernel.globalEnvsSent = true;
      envLines.push(...Object.entries(this.sandbox.envs()).map(([k, v]) => setSnippet(kernel.language, k, v)));
    }
    const envVars = request.env_vars ?? {};
    envLines.push(...Object.entries(envVars).map(([k, v]) => setSnippet(kernel.language, k, v)));
    let code = request.code;
    if (envLines.length) code = `${indent(envLines.join("\n"), indentation(code))}\n${code}`;
    this.cells.push(request.code.slice(0, 40));

    let finished = false;
    // A client that closes the stream before its end abandons the execution.
    res.on("close", () => finished || this.stats.streamsAborted++);
    const fault = this.sandbox.faults;
    if (fault.hangExecution !== undefined && request.code.includes(fault.hangExecution)) {
      fault.hangExecution = undefined;
      await new Promise((resolve) => res.on("close", resolve));
      return;
    }
    let dropAfter: number | undefined;
    if (fault.dropStream && request.code.includes(fault.dropStream.match)) {
      dropAfter = fault.dropStream.after;
      fault.dropStream = undefined;
    }
    const write = (message: Record<string, unknown>) => {
      if (res.destroyed) return;
      res.write(JSON.stringify(message) + "\n");
      if (dropAfter !== undefined && --dropAfter <= 0) res.destroy();
    };
    const cell = randomUUID();
    let keepalive: NodeJS.Timeout | undefined;
    const ended = await new Promise<boolean>((resolve) => {
      const bump = () => {
        clearTimeout(keepalive);
        keepalive = setTimeout(() => {
          write({ type: "keepalive" });
          bump();
        }, KEEPALIVE_MS);
      };
      bump();
      let errored = false;
      kernel.listeners.set(cell, (message) => {
        bump();
        const timestamp = new Date().toISOString();
        switch (message.type) {
          case "stdout":
          case "stderr":
            return write({ type: message.type, text: message.text, timestamp });
          case "number_of_executions":
            return write({ type: message.type, execution_count: message.execution_count });
          case "result":
            return write(resultMessage(message));
          case "error":
            if (errored) return;
            errored = true;
            return write({ type: "error", name: message.name, value: message.value, traceback: message.traceback });
          case "died":
            write({ type: "error", name: "DeadKernelError", value: message.message, traceback: "" });
            return resolve(true);
          case "end":
            return resolve(true);
        }
      });
      res.on("close", () => resolve(false));
      if (kernel.exit) kernel.listeners.get(cell)!({ type: "died", message: kernel.exit });
      else kernel.process.stdin!.write(JSON.stringify({ id: cell, code }) + "\n");
    });
    clearTimeout(keepalive);
    if (ended) {
      finished = true;
      write({ type: "end_of_execution" });
      if (!res.destroyed) res.end();
      kernel.listeners.delete(cell);
    } else {
      // The client left: the real server interrupts the kernel so the next execution is not blocked.
      await this.interrupt(kernel, cell);
    }
    if (Object.keys(envVars).length && !kernel.exit) this.cleanup(kernel, envVars);
  }

  /**
   * Python gets a KeyboardInterrupt. ijavascript answers SIGINT by restarting its kernel, which
   * loses the context's state; here that kernel ends and the context reports it dead.
   */
  private async interrupt(kernel: Kernel, cell: string): Promise<void> {
    const done = new Promise<void>((resolve) => kernel.listeners.set(cell, (m) => (m.type === "end" || m.type === "died") && resolve()));
    if (kernel.language === "python") signal(kernel, "SIGINT");
    else stop(kernel, "the kernel was restarted");
    await Promise.race([done, new Promise((resolve) => setTimeout(resolve, 5000))]);
    kernel.listeners.delete(cell);
  }

  /** The request's variables are removed again by a background cell, as the real server does. */
  private cleanup(kernel: Kernel, envVars: Record<string, string>): void {
    const globals = this.sandbox.envs();
    const lines = Object.keys(envVars).map((k) => (k in globals ? setSnippet(kernel.language, k, globals[k]!) : deleteSnippet(kernel.language, k)));
    const cell = randomUUID();
    kernel.listeners.set(cell, (m) => (m.type === "end" || m.type === "died") && kernel.listeners.delete(cell));
    kernel.process.stdin!.write(JSON.stringify({ id: cell, code: lines.join("\n") }) + "\n");
  }
}

/** The real server's quoting: none. A quote in a value breaks the line, a newline starts a new one. */
function setSnippet(language: string, key: string, value: string): string {
  if (language === "python") return `import os; os.environ['${key}'] = '${value}'`;
  return `process.env['${key}'] = '${value}'`;
}

function deleteSnippet(language: string, key: string): string {
  if (language === "python") return `import os; del os.environ['${key}']`;
  return `delete process.env['${key}']`;
}

function indentation(code: string): string {
  const line = code.split("\n").find((l) => l.trim());
  return line ? line.slice(0, line.length - line.trimStart().length) : "";
}

const indent = (code: string, by: string) =>
  by
    ? code
        .split("\n")
        .map((l) => (l.trim() ? by + l : l))
        .join("\n")
    : code;

function normalize(language: string | undefined): string {
  const l = (language ?? "python").toLowerCase().trim() || "python";
  return l === "js" ? "javascript" : l === "ts" ? "typescript" : l;
}

function describe(kernel: Kernel): Record<string, string> {
  return { id: kernel.id, language: kernel.language, cwd: kernel.cwd };
}

/** A kernel's MIME bundle in the code interpreter's result shape (template/server/api/models/result.py). */
function resultMessage(message: Record<string, unknown>): Record<string, unknown> {
  const data = { ...message } as Record<string, unknown>;
  delete data.type;
  delete data.cell;
  delete data.is_main_result;
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
    "e2b/data": "data",
    "e2b/chart": "chart",
  };
  const out: Record<string, unknown> = { type: "result", is_main_result: message.is_main_result };
  for (const [mime, field] of Object.entries(fields)) {
    if (data[mime] !== undefined) out[field] = data[mime];
    delete data[mime];
  }
  const text = out.text;
  if (typeof text === "string" && text.length >= 2 && /^(['"]).*\1$/s.test(text)) out.text = text.slice(1, -1);
  if (Object.keys(data).length) out.extra = data;
  return out;
}

function signal(kernel: Kernel, name: NodeJS.Signals): void {
  try {
    process.kill(kernel.process.pid!, name);
  } catch {
    // Already gone.
  }
}

function stop(kernel: Kernel, why: string): void {
  kernel.exit ??= why;
  for (const listener of [...kernel.listeners.values()]) listener({ type: "died", message: why });
  try {
    process.kill(-kernel.process.pid!, "SIGKILL");
  } catch {
    // Already gone.
  }
}
