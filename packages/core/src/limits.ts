import { OutputStream } from "./output-stream.js";
import type { NormalizedRequest } from "./schemas.js";

/** How an execution ended: by itself, or stopped by one of the limits every runtime keeps. */
export type Ending = "exited" | "timeout" | "killed" | "output_limit";

export interface Limits {
  stdout: OutputStream;
  stderr: OutputStream;
  /** "exited" until a limit is hit; then the first limit hit. */
  ending: () => Ending;
  /** Ends the execution for a reason of the runtime's own (first reason wins). */
  end: (why: Exclude<Ending, "exited">) => void;
  /** Stops the clock and forgets the signal, once the execution is over. */
  dispose: () => void;
}

/**
 * The limits every execution keeps, however it runs: capped output streams, the timeout (counted
 * from this call) and the caller's AbortSignal. The first limit hit is the ending, and `stop`
 * ends the code, told why.
 */
export function watchLimits(request: NormalizedRequest, stop: (why: Exclude<Ending, "exited">) => void): Limits {
  let ending: Ending = "exited";
  const end = (why: Exclude<Ending, "exited">) => {
    if (ending !== "exited") return;
    ending = why;
    stop(why);
  };
  const stdout = new OutputStream(request.maxOutputBytes, request.onStdout, () => end("output_limit"));
  const stderr = new OutputStream(request.maxOutputBytes, request.onStderr, () => end("output_limit"));
  const timer = setTimeout(() => end("timeout"), request.timeoutMs);
  const onAbort = () => end("killed");
  if (request.signal?.aborted) onAbort();
  request.signal?.addEventListener("abort", onAbort, { once: true });
  return {
    stdout,
    stderr,
    ending: () => ending,
    end,
    dispose: () => {
      clearTimeout(timer);
      request.signal?.removeEventListener("abort", onAbort);
    },
  };
}
