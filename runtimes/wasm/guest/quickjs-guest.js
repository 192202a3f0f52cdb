// The prelude of every QuickJS runtime: console, timers and the entry point, over the one host
// object the worker lends it (write, timer, clear, compile), which is then taken off the global
// object so user code can only reach it through these functions.
// `rules` (to-output.cjs), `nodeConsole` (console.cjs) and `runPrepared` (run-prepared.cjs) are in
// scope, and the web globals are installed: the runtime wraps this file with them.
const host = globalThis.__coderouter_host;
delete globalThis.__coderouter_host;
const callbacks = new Map();
let nextTimer = 1;
const schedule =
  (repeat) =>
  (fn, ms, ...args) => {
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
// QuickJS hands a lone surrogate to the host as three bytes that decode to three U+FFFD; Node
// writes it as one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
globalThis.console = nodeConsole(
  (stream, text) => void host.write(stream, text.replace(LONE_SURROGATE, "\uFFFD")),
  () =>
    String(new Error().stack ?? "")
      .split("\n")
      .slice(3)
      .join("\n"),
);
// QuickJS reports a stack overflow as an InternalError; V8 as a RangeError, which code catches.
Object.setPrototypeOf(InternalError.prototype, RangeError.prototype);
Object.defineProperty(InternalError.prototype, "name", { value: "RangeError", writable: true, configurable: true });
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
