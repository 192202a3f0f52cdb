import type ivm from "isolated-vm";
import {
  asyncFunctionSource,
  InfrastructureError,
  inUserPositions,
  limitError,
  OutputStream,
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
const tick = async () => undefined;

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
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const delay = Math.min(Math.max(0, Number(ms) || 0), Math.max(0, deadline - Date.now()));
      const timer = setTimeout(() => {
        timers.delete(timer);
        resolve();
      }, delay);
      timers.add(timer);
    });
  const references: ivm.Reference[] = [];
  const lend = (value: unknown) => {
    const reference = new ivmModule.Reference(value);
    references.push(reference);
    return reference;
  };
  const network = Boolean(request.network && fetchBridge.enabled);
  let finished = false;
  const host = new ivmModule.Callback((op: number, stream: number, text: string) => {
    if (op === HOST_WRITE) {
      if (!finished) (stream === 1 ? stderr : stdout).write(String(text));
      return !ending && !finished;
    }
    if (op === HOST_SLEEP) return lend(sleep);
    if (op === HOST_FETCH && network) return lend((json: string) => fetchBridge.fetch(json, deadline));
    if (op === HOST_TICK) return lend(tick);
    return null;
  });
  const deadlineTimer = setTimeout(() => end("timeout"), request.timeoutMs);
  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });

  const finish = (reported: { output?: JsonValue; error?: ExecutionError }): RuntimeResult => {
    const error = ending ? limitError(ending, { ...request, memoryMb: run.memoryMb }) : inUserPositions(reported.error, prepared);
    return runtimeResult("isolate", request, started, { output: reported.output, error, stdout, stderr });
  };
  let result: RuntimeResult;
  try {
    const { source, lineOffset } = asyncFunctionSource(prepared.body);
    const raw = (await context.evalClosure(
      `return __coderouter_start($0, $1, $2, $3, $4, ${source})`,
      [host, network, JSON.stringify(request.inputs), JSON.stringify(request.env ?? {}), prepared.filename],
      { result: { promise: true, copy: true }, timeout: request.timeoutMs, filename: prepared.filename, lineOffset },
    )) as string;
    result = finish(JSON.parse(raw) as { output?: JsonValue; error?: ExecutionError });
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
