import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A local Bacalhau orchestrator with one compute node: the v1 REST endpoints coderouter uses, in
 * the JSON shapes of Bacalhau's swagger, and the logs WebSocket. A job's docker task runs as a
 * local child process (its entrypoint, its task environment, nothing of the host's), standing in
 * for the docker engine; jobs walk Pending → Running → Completed / Failed / Stopped. Faults can
 * be injected: a refused submit, a node lost mid-job, a logs stream cut halfway.
 */

export interface LocalBacalhauOptions {
  port?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Time a job spends Pending before the node runs it. */
  scheduleDelayMs?: number;
  /** Bytes of stdout/stderr the execution record keeps (Bacalhau keeps only the start). */
  maxRecordedOutput?: number;
}

export interface BacalhauFaults {
  /** Refuse the next `times` submissions with this status. */
  submitStatus?: { status: number; times: number };
  /** The next job's node is lost this long after the job starts running. */
  nodeLostAfterMs?: number;
  /** Cut the next logs stream (no close frame) after this many messages. */
  cutLogsAfter?: number;
}

const JOB_STATES = ["Undefined", "Pending", "Queued", "Running", "Completed", "Failed", "Stopped"] as const;
type JobState = (typeof JOB_STATES)[number];
const EXECUTION = { New: 1, Running: 6, Completed: 9, Failed: 10, Cancelled: 11 } as const;
const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

interface LocalJob {
  spec: Record<string, unknown> & { Tasks: Task[] };
  id: string;
  state: JobState;
  message: string;
  createTime: number;
  execution: {
    ID: string;
    state: number;
    message: string;
    stdout: string;
    stderr: string;
    exitCode: number;
  };
  process?: ChildProcess;
  /** Output chunks in order, for logs streams that join late. */
  log: { Type: number; Line: string }[];
  listeners: Set<(entry: { Type: number; Line: string } | null) => void>;
  workdir?: string;
}

interface Task {
  Name: string;
  Engine: { Type: string; Params: { Image?: string; Entrypoint?: string[]; Parameters?: string[]; WorkingDirectory?: string } };
  Env?: Record<string, string>;
  Timeouts?: { ExecutionTimeout?: number };
}

export class LocalBacalhau {
  readonly faults: BacalhauFaults = {};
  readonly jobs = new Map<string, LocalJob>();
  readonly stats = { submitted: 0, stopped: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  host = "127.0.0.1";
  port = 0;

  constructor(private readonly options: LocalBacalhauOptions = {}) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((error: Error) => {
        if (!res.headersSent) text(res, 500, error.message);
        else res.destroy();
      });
    });
    this.server.on("upgrade", (req, socket: Socket) => this.upgrade(req, socket));
    this.server.on("connection", (socket) => {
      this.sockets.add(socket);
      socket.on("close", () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.options.port ?? 0, this.host, resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** The variables that point coderouter (or the bacalhau CLI) at this orchestrator. */
  env(): Record<string, string> {
    return {
      BACALHAU_API_HOST: this.host,
      BACALHAU_API_PORT: String(this.port),
      ...(this.options.apiKey ? { BACALHAU_API_KEY: this.options.apiKey } : {}),
    };
  }

  /** Jobs whose process is still running. */
  active(): string[] {
    return [...this.jobs.values()].filter((job) => job.process && job.process.exitCode === null && job.process.signalCode === null).map((job) => job.id);
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) this.finish(job, "Stopped", EXECUTION.Cancelled, "the orchestrator shut down");
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    return !this.options.apiKey || req.headers.authorization === `Bearer ${this.options.apiKey}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    if (url.pathname === "/api/v1/agent/alive" && req.method === "GET") return text(res, 200, "OK");
    if (!this.authorized(req)) return text(res, 401, "Unauthorized: missing or invalid bearer token");
    if (url.pathname === "/api/v1/orchestrator/jobs" && req.method === "PUT") return this.submit(await body(req), res);
    const match = /^\/api\/v1\/orchestrator\/jobs\/([^/]+)(\/executions)?$/.exec(url.pathname);
    const job = match ? this.jobs.get(decodeURIComponent(match[1]!)) : undefined;
    if (match && !job) return text(res, 404, `job not found: ${match[1]}`);
    if (job && req.method === "GET" && !match![2]) {
      return json(res, 200, { Job: { ...job.spec, ID: job.id, CreateTime: job.createTime, State: { StateType: job.state, Message: job.message } } });
    }
    if (job && req.method === "GET" && match![2]) {
      return json(res, 200, { Items: [this.describeExecution(job)], NextToken: "" });
    }
    if (job && req.method === "DELETE") {
      this.stats.stopped++;
      this.finish(job, "Stopped", EXECUTION.Cancelled, url.searchParams.get("reason") ?? "stopped by the user");
      return json(res, 200, { EvaluationID: randomUUID() });
    }
    text(res, 404, `no route for ${req.method} ${url.pathname}`);
  }

  private submit(request: Record<string, unknown>, res: ServerResponse): void {
    const fault = this.faults.submitStatus;
    if (fault && fault.times > 0) {
      fault.times--;
      return text(res, fault.status, fault.status === 503 ? "no compute nodes available" : "internal error submitting the job");
    }
    const spec = request.Job as LocalJob["spec"] | undefined;
    const task = spec?.Tasks?.[0];
    if (!spec || spec.Type !== "batch" || !task || task.Engine?.Type !== "docker" || !task.Engine.Params?.Image || !task.Engine.Params.Entrypoint?.length) {
      return text(res, 400, "invalid job: expected a batch job with one docker task that names an Image and an Entrypoint");
    }
    this.stats.submitted++;
    const job: LocalJob = {
      spec,
      id: `j-${randomUUID()}`,
      state: "Pending",
      message: "",
      createTime: Date.now() * 1e6,
      execution: { ID: `e-${randomUUID()}`, state: EXECUTION.New, message: "", stdout: "", stderr: "", exitCode: 0 },
      log: [],
      listeners: new Set(),
    };
    this.jobs.set(job.id, job);
    setTimeout(() => this.run(job, task), this.options.scheduleDelayMs ?? 30);
    json(res, 200, { JobID: job.id, EvaluationID: randomUUID(), Warnings: [] });
  }

  private run(job: LocalJob, task: Task): void {
    if (job.state !== "Pending") return;
    const [command, ...args] = [...task.Engine.Params.Entrypoint!, ...(task.Engine.Params.Parameters ?? [])];
    job.workdir = mkdtempSync(join(tmpdir(), "local-bacalhau-"));
    const child = spawn(command!, args, {
      // A container's environment: the task's variables and what a process needs to start.
      env: { PATH: "/usr/local/bin:/usr/bin:/bin", HOME: "/root", ...(task.Env ?? {}) },
      cwd: job.workdir,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    job.process = child;
    job.state = "Running";
    job.execution.state = EXECUTION.Running;
    const emit = (Type: number, chunk: Buffer) => {
      const entry = { Type, Line: chunk.toString() };
      if (Type === 1) job.execution.stdout += entry.Line;
      else job.execution.stderr += entry.Line;
      job.log.push(entry);
      for (const listener of job.listeners) listener(entry);
    };
    child.stdout!.on("data", (chunk: Buffer) => emit(1, chunk));
    child.stderr!.on("data", (chunk: Buffer) => emit(2, chunk));
    child.on("error", (error) => this.finish(job, "Failed", EXECUTION.Failed, `the task could not start: ${error.message}`));
    // The container ends with its main process: whatever that started dies with it.
    child.on("exit", () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // Already gone.
      }
    });
    child.on("close", (code, signal) => {
      job.execution.exitCode = code ?? 128;
      if (code === 0) this.finish(job, "Completed", EXECUTION.Completed, "");
      else this.finish(job, "Failed", EXECUTION.Failed, `the task exited with ${signal ?? `code ${code}`}`);
    });
    const timeout = task.Timeouts?.ExecutionTimeout;
    if (timeout) setTimeout(() => this.finish(job, "Failed", EXECUTION.Failed, `execution timed out after ${timeout}s`), timeout * 1000).unref();
    if (this.faults.nodeLostAfterMs !== undefined) {
      const after = this.faults.nodeLostAfterMs;
      this.faults.nodeLostAfterMs = undefined;
      setTimeout(() => this.finish(job, "Failed", EXECUTION.Failed, "node lost: the compute node stopped responding"), after).unref();
    }
  }

  /** Ends a job (once): its processes are killed, its logs streams closed. */
  private finish(job: LocalJob, state: JobState, executionState: number, message: string): void {
    if (job.state === "Completed" || job.state === "Failed" || job.state === "Stopped") return;
    job.state = state;
    job.message = message;
    job.execution.state = executionState;
    job.execution.message = message;
    if (job.process?.pid) {
      try {
        process.kill(-job.process.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    if (job.workdir) rmSync(job.workdir, { recursive: true, force: true });
    // Output still in the pipes arrives before the streams end.
    setTimeout(() => {
      for (const listener of job.listeners) listener(null);
    }, 20);
  }

  private describeExecution(job: LocalJob): Record<string, unknown> {
    const max = this.options.maxRecordedOutput ?? 2048;
    const e = job.execution;
    return {
      ID: e.ID,
      JobID: job.id,
      NodeID: "local-node",
      ComputeState: { StateType: e.state, Message: e.message },
      DesiredState: { StateType: e.state >= EXECUTION.Completed ? 2 : 1, Message: "" },
      RunOutput:
        e.state >= EXECUTION.Completed
          ? {
              Stdout: e.stdout.slice(0, max),
              StdoutTruncated: e.stdout.length > max,
              stderr: e.stderr.slice(0, max),
              StderrTruncated: e.stderr.length > max,
              ExitCode: e.exitCode,
              ErrorMsg: e.message,
            }
          : null,
    };
  }

  /** GET /api/v1/orchestrator/jobs/{id}/logs: a WebSocket of AsyncResult[ExecutionLog] messages. */
  private upgrade(req: IncomingMessage, socket: Socket): void {
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    const match = /^\/api\/v1\/orchestrator\/jobs\/([^/]+)\/logs$/.exec(url.pathname);
    const job = match ? this.jobs.get(decodeURIComponent(match[1]!)) : undefined;
    const key = req.headers["sec-websocket-key"];
    if (!this.authorized(req) || !job || typeof key !== "string") {
      socket.end(`HTTP/1.1 ${this.authorized(req) ? 404 : 401} Refused\r\nConnection: close\r\n\r\n`);
      return;
    }
    const accept = createHash("sha1").update(key + WEBSOCKET_GUID).digest("base64");
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    let cutAfter = this.faults.cutLogsAfter;
    this.faults.cutLogsAfter = undefined;
    const send = (entry: { Type: number; Line: string } | null) => {
      if (socket.destroyed) return;
      if (entry === null) {
        job.listeners.delete(send);
        socket.end(frame(0x8, Buffer.from([0x03, 0xe8])));
        return;
      }
      socket.write(frame(0x1, Buffer.from(JSON.stringify({ value: entry }))));
      if (cutAfter !== undefined && --cutAfter <= 0) {
        job.listeners.delete(send);
        socket.destroy();
      }
    };
    // The client's close frame (opcode 8): answer it and hang up.
    socket.on("data", (data: Buffer) => {
      if ((data[0]! & 0x0f) === 0x8) socket.end(frame(0x8, Buffer.from([0x03, 0xe8])));
    });
    socket.on("close", () => job.listeners.delete(send));
    socket.on("error", () => {});
    for (const entry of job.log) send(entry);
    if (job.state === "Completed" || job.state === "Failed" || job.state === "Stopped") send(null);
    else job.listeners.add(send);
  }
}

/** One unmasked WebSocket frame, as a server sends it. */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([0x80 | opcode, length])
      : length < 65536
        ? Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff])
        : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => {
            const b = Buffer.alloc(8);
            b.writeBigUInt64BE(BigInt(length));
            return b;
          })()]);
  return Buffer.concat([header, payload]);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

function text(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain" }).end(message);
}

async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks).toString();
  return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
}
