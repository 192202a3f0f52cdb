import type ivm from "isolated-vm";
import {
  asyncFunctionSource,
  InfrastructureError,
  inUserPositions,
  limitError,
  OutputStream,
  outputValueLimitError,
  runtimeResult,
  type ExecutionError,
  type JsonValue,
  type LimitKind,
  type NormalizedRequest,
  type PreparedJavaScript,
  type RuntimeResult,
} from "@coderouter/core";
import type { FetchBridge } from "./fetch-bridge.js";

// The guest's operations on its one callback into the host; see guest.cjs.
const HOST_WRITE = 0;
const HOST_SLEEP = 1;
const HOST_FETCH = 2;
const HOST_TICK = 3;
const HOST_TOO_MANY_TIMERS = 4;
const tick = async () => undefined;
/**
 * Timer sleeps one execution may have pending in the host at once: each holds a host timer and
 * promise, so a guest that starts them in a loop would grow the host's memory past memoryMb.
 */
export const MAX_PENDING_SLEEPS = 10_000;
/** Fetches one execution may have in flight at once (the guest refuses more; the host too). */
export const MAX_FETCHES_IN_FLIGHT = 100;

export interface ContextRun {
  ivm: typeof ivm;
  isolate: ivm.Isolate;
  context: ivm.Context;
  prepared: Extract<PreparedJavaScript, { ok: true }>;
  request: NormalizedRequest;
  memoryMb: number;
  fetchBridge: FetchBridge;
  started: number;
}

/**
 * Runs one prepared snippet in a context. `dirty` says the isolate must not serve again: a limit
 * disposed it, or the code left host timers pending that would later be abandoned.
 */
export async function runInContext(run: ContextRun): Promise<{ result: RuntimeResult; dirty: boolean }> {
  const { ivm: ivmModule, isolate, context, prepared, request, fetchBridge, started } = run;
  let ending: LimitKind | undefined;
  const end = (why: LimitKind) => {
    if (ending) return;
    ending = why;
    // Never from inside a callback the isolate is blocked on: dispose once control is back here.
    setImmediate(() => !isolate.isDisposed && isolate.dispose());
  };
  const stdout = new OutputStream(request.maxOutputBytes, request.onStdout, () => end("output_limit"));
  const stderr = new OutputStream(request.maxOutputBytes, request.onStderr, () => end("output_limit"));
  // Sleeps still pending when the execution ends belong to timers the code left behind.
  const timers = new Set<NodeJS.Timeout>();
  const deadline = Date.now() + request.timeoutMs;
  const sleep = (ms: number) => {
    if (timers.size >= MAX_PENDING_SLEEPS) {
      // The execution ends for memory; this timer never fires (the isolate is disposed).
      end("memory");
      return new Promise<void>(() => {});
    }
    return new Promise<void>((resolve) => {
      const delay = Math.min(Math.max(0, Number(ms) || 0), Math.max(0, deadline - Date.now()));
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, delay);
      timers.add(timer);
    });
  };
  const references: ivm.Reference[] = [];
  const lend = (value: unknown) => {
    const reference = new ivmModule.Reference(value);
    references.push(reference);
    return reference;
  };
  const network = Boolean(request.network && fetchBridge.enabled);
  let finished = false;
  let fetchesInFlight = 0;
  const host = new ivmModule.Callback((op: number, stream: number, text: string) => {
    if (op === HOST_WRITE) {
      if (!finished) (stream === 1 ? stderr : stdout).write(String(text));
      return !ending && !finished;
    }
    if (op === HOST_SLEEP) return lend(sleep);
    if (op === HOST_FETCH && network) {
      return lend(async (json: string) => {
        if (fetchesInFlight >= MAX_FETCHES_IN_FLIGHT) return JSON.stringify({ error: `more than ${MAX_FETCHES_IN_FLIGHT} requests in flight` });
        fetchesInFlight++;
        try {
          return await fetchBridge.fetch(json, deadline);
        } finally {
          fetchesInFlight--;
        }
      });
    }
    if (op === HOST_TICK) return lend(tick);
    if (op === HOST_TOO_MANY_TIMERS) end("memory");
    return null;
  });
  const deadlineTimer = setTimeout(() => end("timeout"), request.timeoutMs);
  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });

  const finish = (reported: Reported): RuntimeResult => {
    const error = ending
      ? limitError(ending, { ...request, memoryMb: run.memoryMb })
      : reported.outputLimit
        ? outputValueLimitError(request)
        : inUserPositions(reported.error, prepared);
    return runtimeResult("isolate", request, started, { output: reported.output, error, stdout, stderr });
  };
  let result: RuntimeResult;
  try {
    const { source, lineOffset } = asyncFunctionSource(prepared.body);
    // The host's references go in first, to a strict closure: the user's script below has none of
    // them in scope, and no frame of it can reach them through `caller`, `arguments` or a stack trace.
    await context.evalClosure(
      `"use strict"; __coderouter_prepare($0, $1, $2, $3, $4, $5)`,
      [host, network, JSON.stringify(request.inputs), JSON.stringify(request.env ?? {}), prepared.filename, request.maxOutputBytes],
      { timeout: request.timeoutMs },
    );
    const raw = await context.eval(`__coderouter_start(${source})`, {
      promise: true,
      copy: true,
      timeout: request.timeoutMs,
      filename: prepared.filename,
      lineOffset,
    });
    result = finish(guestReport(raw));
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/memory limit/i.test(message)) ending = "memory";
    if (/execution timed out/i.test(message)) ending ??= "timeout";
    if (ending || /disposed/i.test(message)) result = finish({});
    else if ((error as Error).name === "SyntaxError") {
      result = finish({ error: { kind: "syntax", name: "SyntaxError", message, traceback: String((error as Error).stack ?? "") } });
    } else throw new InfrastructureError("isolate", `the isolate failed: ${message}`, { cause: error });
  } finally {
    finished = true;
    clearTimeout(deadlineTimer);
    request.signal?.removeEventListener("abort", onAbort);
  }
  const leftBehind = timers.size > 0;
  for (const timer of timers) clearTimeout(timer);
  for (const reference of references) reference.release();
  return { result, dirty: Boolean(ending) || leftBehind || isolate.isDisposed };
}

interface Reported {
  output?: JsonValue;
  error?: ExecutionError;
  outputLimit?: boolean;
}

/**
 * The guest's report, read as untrusted: the guest only ever reports the code's own failures
 * (kind runtime); every other kind is the host's to give, so a report claiming one is not believed.
 */
function guestReport(raw: unknown): Reported {
  let parsed: Reported;
  try {
    parsed = JSON.parse(String(raw)) as Reported;
  } catch {
    return { error: { kind: "runtime", name: "Error", message: "the code's result could not be read", traceback: "" } };
  }
  if (parsed === null || typeof parsed !== "object")
    return { error: { kind: "runtime", name: "Error", message: "the code's result could not be read", traceback: "" } };
  if (parsed.outputLimit === true) return { outputLimit: true };
  if (!parsed.error) return { output: parsed.output ?? null };
  const { name, message, traceback } = parsed.error as Partial<ExecutionError>;
  return { error: { kind: "runtime", name: String(name ?? "Error"), message: String(message ?? ""), traceback: String(traceback ?? "") } };
}
