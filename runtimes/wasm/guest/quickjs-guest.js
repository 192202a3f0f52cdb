// The prelude of every QuickJS runtime: console, timers and the entry point, over the one host
// object the worker lends it (write, timer, clear, compile), which is then taken off the global
// object so user code can only reach it through these functions.
// `rules` (to-output.cjs), `format` (inspect.cjs) and `runPrepared` (run-prepared.cjs) are in scope:
// the runtime wraps this file with them.
const host = globalThis.__coderouter_host;
delete globalThis.__coderouter_host;
const callbacks = new Map();
let nextTimer = 1;
const schedule = (repeat) => (fn, ms, ...args) => {
  const id = nextTimer++;
  callbacks.set(id, { run: () => fn(...args), repeat });
  host.timer(id, Number(ms) || 0, repeat);
  return id;
};
globalThis.setTimeout = schedule(false);
globalThis.setInterval = schedule(true);
globalThis.clearTimeout = globalThis.clearInterval = (id) => {
  callbacks.delete(id);
  host.clear(id);
};
globalThis.queueMicrotask = (fn) => void Promise.resolve().then(fn);
const write = (stream) => (...args) => host.write(stream, `${format(...args)}\n`);
globalThis.console = { log: write(0), info: write(0), debug: write(0), error: write(1), warn: write(1), trace: write(1) };
globalThis.__coderouter_fire = (id) => {
  const callback = callbacks.get(id);
  if (!callback) return;
  if (!callback.repeat) callbacks.delete(id);
  callback.run();
};
globalThis.__coderouter_main = (text) => {
  const payload = JSON.parse(text);
  // The request's env and nothing else, where Node code looks for it.
  globalThis.process = { env: payload.env };
  return runPrepared(payload, rules, (source) => host.compile(source)).then((result) => JSON.stringify(result));
};
