import { z } from "zod";
import { WebSocket } from "undici";
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
export const EXECUTION_STATE = { Running: 6, Completed: 9, Failed: 10, Cancelled: 11 } as const;

const JobState = z.object({ StateType: z.enum(JOB_STATES), Message: z.string().optional().default("") });
const GetJobResponse = z.object({ Job: z.object({ ID: z.string(), State: JobState }) });
const PutJobResponse = z.object({ JobID: z.string() });
const Execution = z.object({
  ID: z.string(),
  ComputeState: z.object({ StateType: z.number(), Message: z.string().optional().default("") }),
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
}

export class BacalhauClient {
  constructor(private readonly options: ClientOptions) {}

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

  /** DELETE /api/v1/orchestrator/jobs/{id}: stops the job on the cluster. */
  async stop(id: string, reason: string): Promise<void> {
    await this.call("DELETE", `${this.jobPath(id)}?reason=${encodeURIComponent(reason)}`, undefined, "stop the job");
  }

  /**
   * GET /api/v1/orchestrator/jobs/{id}/logs?follow=true, a WebSocket: calls `onLog` for each
   * chunk of output as the job prints it. Resolves when the stream ends: `complete` is false
   * when it was cut or reported an error.
   */
  logs(id: string, onLog: (type: number, line: string) => void, signal: AbortSignal): Promise<{ complete: boolean }> {
    const url = new URL(`${this.jobPath(id)}/logs?follow=true&namespace=${encodeURIComponent(this.options.namespace)}`, this.options.baseUrl);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    return new Promise((resolve) => {
      const headers: Record<string, string> = this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {};
      const socket = new WebSocket(url, { headers });
      let complete = true;
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
        if (message.error && (typeof message.error !== "object" || Object.keys(message.error).length)) complete = false;
        if (message.value) onLog(message.value.Type, message.value.Line);
      });
      socket.addEventListener("error", () => (complete = false));
      socket.addEventListener("close", (event) => {
        signal.removeEventListener("abort", close);
        resolve({ complete: complete && event.code === 1000 });
      });
    });
  }

  private jobPath(id: string): string {
    return `/api/v1/orchestrator/jobs/${encodeURIComponent(id)}`;
  }

  private async call(method: string, path: string, body: unknown, action: string, json = true): Promise<unknown> {
    const url = new URL(path, this.options.baseUrl);
    if (method === "GET" && !url.searchParams.has("namespace")) url.searchParams.set("namespace", this.options.namespace);
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: {
          ...(body ? { "content-type": "application/json" } : {}),
          ...(this.options.apiKey ? { Authorization: `Bearer ${this.options.apiKey}` } : {}),
        },
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 15_000),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
      throw new BacalhauError(`cannot reach the Bacalhau orchestrator at ${this.options.baseUrl} to ${action}: ${cause}`, undefined, { cause: error });
    }
    const text = await response.text();
    if (!response.ok) {
      const hint = response.status === 401 || response.status === 403 ? " (check BACALHAU_API_KEY)" : "";
      throw new BacalhauError(`Bacalhau refused to ${action}: ${response.status} ${text.trim().slice(0, 300)}${hint}`, response.status);
    }
    if (!json) return text;
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new BacalhauError(`Bacalhau answered ${action} with something that is not JSON: ${text.slice(0, 200)}`, response.status, { cause: error });
    }
  }
}

/** An answer of the shape we expect, or a BacalhauError saying which field was not. */
function read<S extends z.ZodType>(schema: S, value: unknown, action: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new BacalhauError(`Bacalhau's answer to ${action} is not what its API documents (${issue?.path.join(".")}: ${issue?.message})`);
}
