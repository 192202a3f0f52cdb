import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { apiError } from "./api-error.js";
import { EXECUTION, isTerminalExecution, newExecution, runExecution, stop, type LocalExecution, type LogEntry } from "./execution.js";
import { validateJob, type JobSpec, type Resources } from "./validate.js";
import { acceptWebSocket } from "./websocket.js";

/**
 * A local Bacalhau orchestrator (v1.9) with one compute node: the v1 REST endpoints coderouter
 * uses, in the JSON shapes of Bacalhau's swagger, and the logs WebSocket, as strict as the real
 * one where a client can get it wrong: jobs are validated (upper-case task env, known network
 * types, resources), a job sits Pending without executions until it is scheduled, the node offers
 * 80% of its CPUs and memory, logs are refused while no execution exists, a failed execution is
 * retried once, RunOutput is never null and keeps 2 KiB, a non-zero exit still completes the
 * job, API errors are JSON, DELETE reads its reason from the body. See execution.ts for the node.
 */

export interface LocalBacalhauOptions {
  port?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Time a job spends Pending, with no execution, before the node is given it. */
  scheduleDelayMs?: number;
  /** Time the node takes to pull an image it does not have yet (counted in ExecutionTimeout). */
  pullDelayMs?: number;
  /** The compute node's CPUs and memory (bytes); it offers 80% of each. */
  nodeCpus?: number;
  nodeMemory?: number;
  /** Serve https/wss with this key and certificate (PEM), as API.TLS.CertFile / KeyFile do. */
  tls?: { key: string; cert: string };
}

export interface BacalhauFaults {
  /** Refuse the next `times` submissions with this status. */
  submitStatus?: { status: number; times: number };
  /** The next execution's node is lost this long after it starts. */
  nodeLostAfterMs?: number;
  /** Cut the next logs stream (no close frame) after this many messages. */
  cutLogsAfter?: number;
}

const JOB_STATES = ["Undefined", "Pending", "Queued", "Running", "Completed", "Failed", "Stopped"] as const;
type JobState = (typeof JOB_STATES)[number];
/** system.MaxStdoutReturnLength / MaxStderrReturnLength. */
const RECORDED_OUTPUT = 2048;
/** AllocatedCapacity in Bacalhau's default configuration. */
const OFFERED = 0.8;

export interface LocalJob {
  spec: JobSpec;
  id: string;
  state: JobState;
  message: string;
  createTime: number;
  resources: Resources;
  /** Oldest first, as the executions endpoint lists them. */
  executions: LocalExecution[];
  /** The reason the last DELETE gave in its body. */
  stopReason?: string;
}

export class LocalBacalhau {
  readonly faults: BacalhauFaults = {};
  readonly jobs = new Map<string, LocalJob>();
  readonly stats = { submitted: 0, stopped: 0, logsRefused: 0 };
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private readonly pulled = new Set<string>();
  host = "127.0.0.1";
  port = 0;

  constructor(private readonly options: LocalBacalhauOptions = {}) {
    const listener: RequestListener = (req, res) => {
      this.route(req, res).catch((error: Error) => {
        if (!res.headersSent) apiError(res, 500, "InternalError", `Internal server error. ${error.message}`);
        else res.destroy();
      });
    };
    this.server = options.tls ? createTlsServer(options.tls, listener) : createServer(listener);
    this.server.on("upgrade", (req, socket: Socket) => this.logs(req, socket));
    this.server.on(options.tls ? "secureConnection" : "connection", (socket: Socket) => {
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
      ...(this.options.tls ? { BACALHAU_API_TLS_USETLS: "true" } : {}),
    };
  }

  /** Jobs with an execution whose process is still running. */
  active(): string[] {
    const alive = (e: LocalExecution) => e.process && e.process.exitCode === null && e.process.signalCode === null;
    return [...this.jobs.values()].filter((job) => job.executions.some(alive)).map((job) => job.id);
  }

  /** Forgets the images pulled so far: the next job pays the pull again. */
  forgetImages(): void {
    this.pulled.clear();
  }

  async close(): Promise<void> {
    for (const job of this.jobs.values()) this.end(job, "Stopped", "the orchestrator shut down");
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private authorized(req: IncomingMessage): boolean {
    return !this.options.apiKey || req.headers.authorization === `Bearer ${this.options.apiKey}`;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    if (url.pathname === "/api/v1/agent/alive" && req.method === "GET") return text(res, 200, "OK");
    if (!this.authorized(req)) return apiError(res, 401, "Unauthorized", "missing or invalid bearer token", "Auth");
    if (url.pathname === "/api/v1/orchestrator/jobs" && req.method === "PUT") return this.submit(await body(req), res);
    const match = /^\/api\/v1\/orchestrator\/jobs\/([^/]+)(\/executions)?$/.exec(url.pathname);
    if (!match) return apiError(res, 404, "NotFound", "The requested resource/URL was not found.");
    const job = this.jobs.get(decodeURIComponent(match[1]!));
    if (!job) return apiError(res, 404, "NotFound", `job not found: ${match[1]}`, "JobStore");
    if (req.method === "GET" && !match[2]) {
      return json(res, 200, { Job: { ...job.spec, ID: job.id, CreateTime: job.createTime, State: { StateType: job.state, Message: job.message } } });
    }
    if (req.method === "GET") return json(res, 200, { Items: job.executions.map((e) => describe(job, e)), NextToken: "" });
    if (req.method === "DELETE" && !match[2]) {
      // echo binds StopJobRequest.Reason from the JSON body; a query parameter is not read.
      const reason = (await body(req)).reason;
      this.stats.stopped++;
      job.stopReason = typeof reason === "string" ? reason : "";
      this.end(job, "Stopped", job.stopReason || "job stopped by user");
      return json(res, 200, { EvaluationID: randomUUID() });
    }
    apiError(res, 405, "BadRequest", "Method Not Allowed");
  }

  private submit(request: Record<string, unknown>, res: ServerResponse): void {
    const fault = this.faults.submitStatus;
    if (fault && fault.times > 0) {
      fault.times--;
      return fault.status === 503
        ? apiError(res, 503, "ServiceUnavailable", "no compute nodes available")
        : apiError(res, fault.status, "InternalError", "Internal server error");
    }
    const spec = request.Job as JobSpec | undefined;
    const checked = validateJob(spec);
    if ("error" in checked) return apiError(res, 400, "ValidationError", checked.error, "Job");
    this.stats.submitted++;
    const job: LocalJob = {
      spec: spec!,
      id: `j-${randomUUID()}`,
      state: "Pending",
      message: "",
      createTime: Date.now() * 1e6,
      resources: checked.resources,
      executions: [],
    };
    this.jobs.set(job.id, job);
    setTimeout(() => this.schedule(job), this.options.scheduleDelayMs ?? 30);
    json(res, 200, { JobID: job.id, EvaluationID: randomUUID(), Warnings: [] });
  }

  /** Places the job's next execution on the node, when the node can take it. */
  private schedule(job: LocalJob): void {
    if (job.state !== "Pending" && job.state !== "Running") return;
    const cpus = this.options.nodeCpus ?? 1;
    const memory = this.options.nodeMemory ?? 8 * 1024 ** 3;
    if (job.resources.cpu > cpus * OFFERED || job.resources.memory > memory * OFFERED) {
      const offered = `${(cpus * OFFERED).toFixed(1)} CPU, ${Math.floor((memory * OFFERED) / 1e6)} MB`;
      return this.end(
        job,
        "Failed",
        `not enough nodes to run job. requested: 1, available: 1, suitable: 0.\n• Node local-node: does not have enough resources (offers ${offered})`,
      );
    }
    const execution = newExecution();
    job.executions.push(execution);
    job.state = "Running";
    const nodeLostAfterMs = this.faults.nodeLostAfterMs;
    this.faults.nodeLostAfterMs = undefined;
    runExecution(
      execution,
      job.spec.Tasks[0]!,
      { pulled: this.pulled, pullDelayMs: this.options.pullDelayMs ?? 0, memory: job.resources.memory, nodeLostAfterMs },
      () => this.executionEnded(job, execution),
    );
  }

  private executionEnded(job: LocalJob, execution: LocalExecution): void {
    if (job.state !== "Running") return;
    if (execution.state === EXECUTION.Completed) return this.end(job, "Completed", "");
    if (execution.state !== EXECUTION.Failed) return;
    // The scheduler retries a failed execution; a node that already ran the job twice is unsuitable.
    if (job.executions.length < 2) setTimeout(() => this.schedule(job), 20);
    else this.end(job, "Failed", "Job failed because it has been retried too many times");
  }

  /** Ends a job (once), with any execution still running. */
  private end(job: LocalJob, state: JobState, message: string): void {
    if (job.state === "Completed" || job.state === "Failed" || job.state === "Stopped") return;
    job.state = state;
    job.message = message;
    for (const execution of job.executions) stop(execution, EXECUTION.Cancelled, message);
  }

  /**
   * GET /api/v1/orchestrator/jobs/{id}/logs: a WebSocket of AsyncResult[ExecutionLog] messages
   * for the job's latest execution (or the one named by execution_id). As in Bacalhau, the socket
   * is upgraded first; a job with no execution yet gets one error message and a normal close.
   */
  private logs(req: IncomingMessage, socket: Socket): void {
    if (!this.authorized(req)) {
      socket.end("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n");
      return;
    }
    const url = new URL(req.url ?? "/", `http://${this.host}`);
    const match = /^\/api\/v1\/orchestrator\/jobs\/([^/]+)\/logs$/.exec(url.pathname);
    const ws = acceptWebSocket(req, socket);
    if (!ws) return;
    const job = match ? this.jobs.get(decodeURIComponent(match[1]!)) : undefined;
    const refuse = (error: string) => {
      this.stats.logsRefused++;
      ws.send({ error, value: { Type: 0, Line: "" } });
      ws.close();
    };
    if (!job) return refuse(`job not found: ${match?.[1]}`);
    const wanted = url.searchParams.get("execution_id");
    const execution = wanted ? job.executions.find((e) => e.ID === wanted) : job.executions.at(-1);
    if (!job.executions.length) {
      return refuse(`failed to open log stream for job ${job.id}: no executions found for job ${job.spec.Name ?? job.id} with ID ${job.id}, and version 0`);
    }
    if (!execution) return refuse(`failed to open log stream for job ${job.id}: unable to find execution ${wanted} in job ${job.id} and job version 0`);
    let cutAfter = this.faults.cutLogsAfter;
    this.faults.cutLogsAfter = undefined;
    const send = (entry: LogEntry | null) => {
      if (ws.closed) return;
      if (entry === null) {
        execution.listeners.delete(send);
        return ws.close();
      }
      ws.send({ value: entry });
      if (cutAfter !== undefined && --cutAfter <= 0) {
        execution.listeners.delete(send);
        ws.cut();
      }
    };
    ws.onClose(() => execution.listeners.delete(send));
    for (const entry of execution.log) send(entry);
    if (isTerminalExecution(execution)) send(null);
    else execution.listeners.add(send);
  }
}

/** models.Execution as the API lists it: RunOutput is never null (Normalize), kept to 2 KiB. */
function describe(job: LocalJob, e: LocalExecution): Record<string, unknown> {
  const completed = e.exitCode !== undefined && e.state === EXECUTION.Completed;
  return {
    ID: e.ID,
    JobID: job.id,
    NodeID: "local-node",
    ComputeState: { StateType: e.state, Message: e.message },
    DesiredState: { StateType: isTerminalExecution(e) ? 2 : 1, Message: "" },
    CreateTime: e.createTime,
    ModifyTime: e.modifyTime,
    RunOutput: {
      Stdout: completed ? e.stdout.slice(0, RECORDED_OUTPUT) : "",
      StdoutTruncated: completed && e.stdout.length > RECORDED_OUTPUT,
      stderr: completed ? e.stderr.slice(0, RECORDED_OUTPUT) : "",
      StderrTruncated: completed && e.stderr.length > RECORDED_OUTPUT,
      ExitCode: completed ? e.exitCode : 0,
      ErrorMsg: "",
    },
  };
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
  try {
    return raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
