// Runs JavaScript in QuickJS, a second engine compiled to WebAssembly, on a worker thread: each
// execution gets a new QuickJS runtime (its own heap, memory limit, stack limit) that sees only
// what the guest prelude gives it (console, timers, inputs), never Node or the host. The parent
// stops an execution through a shared flag the interrupt handler reads: 1 timeout, 2 abort, 3
// output cap.
import { parentPort, workerData } from "node:worker_threads";
import { getQuickJS } from "quickjs-emscripten";

const { guestSource } = workerData;
const QuickJS = await getQuickJS();
const STOPS = ["", "timeout", "killed", "output_limit"];

parentPort.on("message", (message) => {
  void run(message).then((result) => parentPort.postMessage({ type: "result", ...result }));
});
parentPort.postMessage({ type: "ready" });

/**
 * One execution in a QuickJS runtime of its own, freed after it. Its result carries `retire` when
 * this worker's QuickJS can serve no other execution: the execution says so itself, so nothing of
 * how one execution ended reaches another's result.
 */
async function run(message) {
  /** The runtime, its context and every handle the execution made, in the order they were made. */
  const owned = [];
  const outcome = await execute(message, owned).catch((error) => ({ failure: String(error?.stack ?? error) }));
  // After an out-of-memory the module's own heap (shared by every runtime this worker makes,
  // and never shrunk) may be too fragmented for the next one: a later promise flood then failed
  // its allocations inside jobs and ended as an unsettled promise. A fresh worker starts clean.
  const retire = !free(owned) || /out of memory/i.test(String(outcome.error?.message));
  return { ...outcome, ...(retire ? { retire: true } : {}) };
}

/** Frees what an execution made, the last made first; false when QuickJS could not. */
function free(owned) {
  try {
    for (const resource of owned.reverse()) if (resource.alive) resource.dispose();
    return true;
  } catch {
    // QuickJS aborts when it frees a runtime an out-of-memory left half-built (its gc_obj_list
    // assertion): the WebAssembly instance is dead after an abort, so the worker goes with this
    // execution, whose outcome stands.
    return false;
  }
}

async function execute({ payload, filename, memoryMb, timeoutMs, stop }, owned) {
  const flag = new Int32Array(stop);
  const deadline = performance.now() + timeoutMs;
  const stopped = () => {
    if (!Atomics.load(flag, 0) && performance.now() > deadline) Atomics.store(flag, 0, 1);
    return STOPS[Atomics.load(flag, 0)] || undefined;
  };
  const runtime = QuickJS.newRuntime();
  owned.push(runtime);
  runtime.setMemoryLimit(memoryMb * 1024 * 1024);
  // Recursion as deep as V8 allows (10,000 frames and more); a stack overflow is then a RangeError
  // (see the guest), not a crash: the limit stays below the WebAssembly build's own stack.
  runtime.setMaxStackSize(3 * 1024 * 1024);
  runtime.setInterruptHandler(() => Boolean(stopped()));
  const ctx = runtime.newContext();
  owned.push(ctx);
  const keep = (handle) => (owned.push(handle), handle);
  /** Host timers: id → { due, every } (every: the interval, or undefined for a one-shot). */
  const timers = new Map();
  const host = keep(ctx.newObject());
  ctx.setProp(
    host,
    "write",
    keep(
      ctx.newFunction("write", (stream, text) => {
        parentPort.postMessage({ type: ctx.getNumber(stream) === 1 ? "stderr" : "stdout", text: ctx.getString(text) });
      }),
    ),
  );
  ctx.setProp(
    host,
    "timer",
    keep(
      ctx.newFunction("timer", (id, ms, repeat) => {
        const delay = Math.max(0, ctx.getNumber(ms) || 0);
        timers.set(ctx.getNumber(id), { due: performance.now() + delay, every: ctx.dump(repeat) ? Math.max(1, delay) : undefined });
      }),
    ),
  );
  ctx.setProp(host, "clear", keep(ctx.newFunction("clear", (id) => void timers.delete(ctx.getNumber(id)))));
  ctx.setProp(host, "compile", keep(ctx.newFunction("compile", (source) => ctx.evalCode(ctx.getString(source), filename))));
  ctx.setProp(ctx.global, "__coderouter_host", host);
  const prelude = ctx.evalCode(guestSource, "coderouter-guest.js");
  if (prelude.error) return { failure: `the guest prelude failed: ${JSON.stringify(ctx.dump(keep(prelude.error)))}` };
  keep(prelude.value);
  const main = keep(ctx.getProp(ctx.global, "__coderouter_main"));
  const fire = keep(ctx.getProp(ctx.global, "__coderouter_fire"));
  const started = ctx.callFunction(main, ctx.undefined, keep(ctx.newString(payload)));
  if (started.error) return { stop: stopped(), error: ctx.dump(keep(started.error)) };
  const promise = keep(started.value);
  for (;;) {
    const jobs = runtime.executePendingJobs();
    // An interrupt inside a promise job rejects the code's promise: the stop is what happened.
    if (stopped()) return { stop: stopped() };
    // Promise jobs turn the code's own exceptions into rejections; what escapes a job is the
    // engine's (out of memory in a microtask flood): the code's promise would never settle.
    // QuickJS throws null when it cannot even allocate the error object, i.e. out of memory.
    if (jobs.error) return { error: ctx.dump(keep(jobs.error)) ?? { name: "InternalError", message: "out of memory" } };
    const state = ctx.getPromiseState(promise);
    if (state.type === "fulfilled") return { json: ctx.getString(keep(state.value)) };
    if (state.type === "rejected") return { stop: stopped(), error: ctx.dump(keep(state.error)) };
    if (stopped()) return { stop: stopped() };
    const next = Math.min(...[...timers.values()].map((t) => t.due));
    if (!Number.isFinite(next)) {
      return { error: { name: "UnsettledPromiseError", message: "the code awaited a promise that nothing is left to settle" } };
    }
    const wait = Math.min(next, deadline) - performance.now();
    // Sleeps on the flag: the parent's abort or output cap wakes it at once.
    if (wait > 0) Atomics.wait(flag, 0, 0, wait);
    if (stopped()) return { stop: stopped() };
    const now = performance.now();
    for (const [id, timer] of [...timers].sort((a, b) => a[1].due - b[1].due)) {
      if (timer.due > now) break;
      if (timer.every === undefined) timers.delete(id);
      else timer.due = now + timer.every;
      const fired = ctx.callFunction(fire, ctx.undefined, keep(ctx.newNumber(id)));
      if (fired.error) {
        if (stopped()) return { stop: stopped() };
        return { error: ctx.dump(keep(fired.error)) };
      }
      keep(fired.value);
    }
  }
}
