import { z } from "zod";
import { readFileSync } from "node:fs";
import { Agent, fetch, WebSocket, type Dispatcher } from "undici";
import { InfrastructureError } from "@coderouter/core";

/**
 * A client of the Bacalhau orchestrator's REST API (v1), with zod schemas of exactly the fields
 * coderouter reads (pkg/swagger/swagger.json in Bacalhau's repository has the rest).
 */

export const JOB_STATES = ["Undefined", "Pending", "Queued", "Running", "Completed", "Failed", "Stopped"] as const;
export type JobStateType = (typeof JOB_STATES)[number];
const TERMINAL: JobStateType[] = ["Completed", "Failed", "Stopped"];
export const isTerminal = (state: JobStateType) => TERMINAL.includes(state);

/** models.ExecutionStateType, marshalled as its number. */
export const EXECUTION_STATE = { BidAccepted: 5, Running: 6, Publishing: 7, Completed: 9, Failed: 10, Cancelled: 11 } as const;

const JobState = z.object({ StateType: z.enum(JOB_STATES), Message: z.string().optional().default("") });
const GetJobResponse = z.object({ Job: z.object({ ID: z.string(), State: JobState }) });
const PutJobResponse = z.object({ JobID: z.string() });
const Execution = z.object({
  ID: z.string(),
  ComputeState: z.object({ StateType: z.number(), Message: z.string().optional().default("") }),
  // Never null from v1.x's Normalize (zero values until the run completes); older servers sent null.
  RunOutput: z
    .object({
      Stdout: z.string().optional().default(""),
      stderr: z.string().optional().default(""),
      StdoutTruncated: z.boolean().optional().default(false),
      ExitCode: z.number().optional().default(0),
      ErrorMsg: z.string().optional(),
    })
    .nullish(),
});
export type Execution = z.infer<typeof Execution>;
const ListExecutionsResponse = z.object({ Items: z.array(Execution).nullish() });
/** One message of the logs WebSocket: concurrency.AsyncResult[models.ExecutionLog]. */
const LogMessage = z.object({
  value: z.object({ Type: z.number(), Line: z.string() }).optional(),
  error: z.unknown().optional(),
});
/** apimodels.APIError: how the API answers a refusal. */
const ApiError = z.object({ Code: z.string().optional(), Message: z.string(), Hint: z.string().optional() });
/** models.ExecutionLogType: 1 stdout, 2 stderr. */
export const LOG_STDOUT = 1;

/** The cluster (not the code) failed or refused: the router may fall back. */
export class BacalhauError extends InfrastructureError {
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super("bacalhau", message, options);
  }
}

export interface ClientOptions {
  baseUrl: string;
  apiKey?: string;
  namespace: string;
  requestTimeoutMs?: number;
  /** A CA bundle (PEM file) to trust for the orchestrator's certificate. */
  caFile?: string;
  /** Accept any certificate (self-signed test clusters only). */
  insecure?: boolean;
}

/** How a logs stream ended: `complete` when it closed normally without reporting an error. */
export interface LogsEnd {
  complete: boolean;
  error?: string;
}

export class BacalhauClient {
  private agent: Dispatcher | undefined;

  constructor(private readonly options: ClientOptions) {}

  /** The connection pool trusting the configured CA, made at first use (a bad file is then an error, not a crash). */
  private dispatcher(): Dispatcher | undefined {
    const { caFile, insecure } = this.options;
    if (this.agent || (!caFile && !insecure)) return this.agent;
    let ca: string | undefined;
    try {
      ca = caFile ? readFileSync(caFile, "utf8") : undefined;
    } catch (error) {
      throw new BacalhauError(`cannot read the CA certificate file ${caFile} (BACALHAU_API_TLS_CAFILE): ${(error as Error).message}`);
    }
    this.agent = new Agent({ connect: { ...(ca ? { ca } : {}), rejectUnauthorized: !insecure } });
    return this.agent;
  }

  /** GET /api/v1/agent/alive */
  async alive(): Promise<void> {
    await this.call("GET", "/api/v1/agent/alive", undefined, "probe the orchestrator", false);
  }

  /** PUT /api/v1/orchestrator/jobs: the job's id. */
  async submit(job: Record<string, unknown>): Promise<string> {
    const body = { Job: job, namespace: this.options.namespace };
    return read(PutJobResponse, await this.call("PUT", "/api/v1/orchestrator/jobs", body, "submit the job"), "submit the job").JobID;
  }

  /** GET /api/v1/orchestrator/jobs/{id}: its state. */
  async state(id: string): Promise<z.infer<typeof JobState>> {
    return read(GetJobResponse, await this.call("GET", this.jobPath(id), undefined, "read the job's state"), "read the job's state").Job.State;
  }

  /** GET /api/v1/orchestrator/jobs/{id}/executions: each run with its output and exit code. */
  async executions(id: string): Promise<Execution[]> {
    const action = "read the job's executions";
    const response = read(ListExecutionsResponse, await this.call("GET", `${this.jobPath(id)}/executions`, undefined, action), action);
    return response.Items ?? [];
  }

  /** DELETE /api/v1/orchestrator/jobs/{id}: stops the job on the cluster (the reason goes in the body). */
  async stop(id: string, reason: string): Promise<void> {
    await this.call("DELETE", this.jobPath(id), { reason }, "stop the job");
  }

  /**
   * GET /api/v1/orchestrator/jobs/{id}/logs?follow=true&execution_id=…, a WebSocket: calls `onLog`
   * for each chunk of the execution's output as it prints it. Resolves when the stream ends:
   * `complete` is false when it was cut or reported an error (the orchestrator answers a job with
   * no execution yet by an error message and a normal close).
   */
  logs(id: string, executionId: string, onLog: (type: number, line: string) => void, signal: AbortSignal): Promise<LogsEnd> {
    const query = new URLSearchParams({ follow: "true", execution_id: executionId, namespace: this.options.namespace });
    const url = new URL(`${this.jobPath(id)}/logs?${query}`, this.options.baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const dispatcher = this.dispatcher();
    return new Promise((resolve) => {
      const headers: Record<string, string> = this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {};
      const socket = new WebSocket(url, { headers, ...(dispatcher ? { dispatcher } : {}) });
      let complete = true;
      let reported: string | undefined;
      const close = () => socket.close();
      signal.addEventListener("abort", close, { once: true });
      socket.addEventListener("message", (event) => {
        let message: z.infer<typeof LogMessage>;
        try {
          message = LogMessage.parse(JSON.parse(String(event.data)));
        } catch {
          complete = false;
          return;
        }
        if (message.error && (typeof message.error !== "object" || Object.keys(message.error).length)) {
          complete = false;
          reported = String(typeof message.error === "string" ? message.error : JSON.stringify(message.error));
          return;
        }
        if (message.value && message.value.Type !== 0) onLog(message.value.Type, message.value.Line);
      });
      socket.addEventListener("error", () => (complete = false));
      socket.addEventListener("close", (event) => {
        signal.removeEventListener("abort", close);
        resolve({ complete: complete && event.code === 1000, ...(reported ? { error: reported } : {}) });
      });
    });
  }

  private jobPath(id: string): string {
    return `/api/v1/orchestrator/jobs/${encodeURIComponent(id)}`;
  }

  private async call(method: string, path: string, body: unknown, action: string, json = true): Promise<unknown> {
    const url = new URL(path, this.options.baseUrl);
    if (method === "GET" && !url.searchParams.has("namespace")) url.searchParams.set("namespace", this.options.namespace);
    const dispatcher = this.dispatcher();
    let response: Awaited<ReturnType<typeof fetch>>;
    try {
      response = await fetch(url, {
        method,
        headers: {
          ...(body ? { "content-type": "application/json" } : {}),
          ...(this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 15_000),
        ...(dispatcher ? { dispatcher } : {}),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      const hint = /CERT|SSL|TLS/i.test(cause) ? " (the orchestrator's certificate is not trusted: set BACALHAU_API_TLS_CAFILE to its CA)" : "";
      throw new BacalhauError(`cannot reach the Bacalhau orchestrator at ${this.options.baseUrl} to ${action}: ${cause}${hint}`, undefined, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      const hint = response.status === 401 || response.status === 403 ? " (check BACALHAU_API_KEY)" : "";
      throw new BacalhauError(`Bacalhau refused to ${action}: ${response.status} ${describeRefusal(text)}${hint}`, response.status);
    }
    if (!json) return text;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new BacalhauError(`Bacalhau answered ${action} with something that is not JSON: ${text.slice(0, 200)}`, response.status, { cause: error });
    }
  }
}

/** The API's JSON error as "Code: Message (Hint)"; older servers answered plain text. */
function describeRefusal(text: string): string {
  let parsed: ReturnType<typeof ApiError.safeParse> | undefined;
  try {
    parsed = ApiError.safeParse(JSON.parse(text));
  } catch {
    parsed = undefined;
  }
  if (!parsed?.success) return text.trim().slice(0, 300);
  const { Code, Message, Hint } = parsed.data;
  return `${Code ? `${Code}: ` : ""}${Message.slice(0, 300)}${Hint ? ` (${Hint})` : ""}`;
}

/** An answer of the shape we expect, or a BacalhauError saying which field was not. */
function read<S extends z.ZodType>(schema: S, value: unknown, action: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BacalhauError(`Bacalhau's answer to ${action} is not what its API documents (${issue?.path.join(".")}: ${issue?.message})`);
}
