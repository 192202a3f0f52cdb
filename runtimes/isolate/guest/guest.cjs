// The prelude of every isolate context, baked into the isolate's start-up snapshot (so a fresh
// context costs nothing to prepare). It sees only what the host hands to `prepare()` for one
// execution: one callback into the host, and the inputs and env as JSON text. It keeps those in
// closures and hands user code nothing of the host. It runs in strict mode (the snapshot source
// says so first): a strict frame gives user code neither its function, its `this` nor its
// arguments through a stack trace, `caller` or `arguments`.
//
// The callback's operations: HOST_WRITE(stream, text) → whether to keep writing; HOST_TOO_MANY_TIMERS()
// ends the execution for memory; HOST_SLEEP() and
// HOST_FETCH() → a Reference to the host's sleep or fetch, HOST_TICK() → one to a host function that
// resolves at once (a round trip: every microtask queued before it has run when it returns); asked for on first use only, because
// moving a Reference into a context costs more than a whole trivial execution.
//
// `toOutput`, `publishInputs`, `nodeConsole` (from core's shared guest files), `EXPOSE_WASM`
// (ISOLATE_WASM), `MAX_PENDING_SLEEPS` and `MAX_FETCHES_IN_FLIGHT` (execution.ts) are in scope, and the web globals are installed: the snapshot source wraps them.
const HOST_WRITE = 0;
const HOST_SLEEP = 1;
const HOST_FETCH = 2;
const HOST_TICK = 3;
const HOST_TOO_MANY_TIMERS = 4;
// Taken before user code runs: code that replaces Promise.prototype.then must not be able to
// stop its own result from reaching the host, nor code that replaces JSON.stringify forge it.
const promiseThen = Promise.prototype.then;
const promiseResolve = Promise.resolve.bind(Promise);
const NativePromise = Promise;
const stringify = JSON.stringify;
const charCodeAt = Function.prototype.call.bind(String.prototype.charCodeAt);
const assign = Object.assign;
const create = Object.create;
const nullObject = (fields) => assign(create(null), fields);
const isArray = Array.isArray;
const keysOf = Object.keys;
const protoOf = Object.getPrototypeOf;
const isFiniteNumber = Number.isFinite;
const ObjectPrototype = Object.prototype;
const NativeSet = Set;

/**
 * Whether a result is plain JSON data already (plain objects and arrays of strings, finite numbers,
 * booleans and null, nothing reached twice), which toOutput would copy unchanged: such a result is
 * reported as it is. This walk allocates nothing per value; toOutput's copy, with a path string per
 * value, was a quarter of a 1,000-object transform (~1 ms of 4). Anything else takes toOutput.
 */
function isPlainJson(value) {
  const stack = [value];
  const seen = new NativeSet();
  while (stack.length) {
    const v = stack.pop();
    const type = typeof v;
    if (type === "string" || type === "boolean" || v === null) continue;
    if (type === "number") {
      if (isFiniteNumber(v)) continue;
      return false;
    }
    if (type !== "object" || seen.has(v)) return false;
    seen.add(v);
    if (isArray(v)) {
      // A hole reads as undefined and fails the check, as it should (toOutput makes it null).
      for (let i = 0; i < v.length; i++) stack.push(v[i]);
      continue;
    }
    const proto = protoOf(v);
    if (proto !== ObjectPrototype && proto !== null) return false;
    const keys = keysOf(v);
    for (let i = 0; i < keys.length; i++) stack.push(v[keys[i]]);
  }
  return true;
}

function describe(error, filename) {
  if (!(error instanceof Error)) {
    let text;
    try {
      text = String(error);
    } catch {
      text = Object.prototype.toString.call(error);
    }
    return nullObject({ kind: "runtime", name: "Error", message: `Uncaught ${text}`, traceback: "" });
  }
  const stack = String(error.stack ?? "")
    .split("\n")
    .filter((line, i) => i === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`))
    .join("\n");
  return nullObject({ kind: "runtime", name: String(error.name), message: String(error.message), traceback: stack });
}

/**
 * Defines a global on first use: most snippets never touch the console or a timer, and making
 * their functions in every fresh context costs more than the snippet itself.
 */
function lazyGlobal(name, make) {
  Object.defineProperty(globalThis, name, {
    configurable: true,
    enumerable: false,
    get() {
      const value = make();
      Object.defineProperty(globalThis, name, { value, configurable: true, writable: true, enumerable: false });
      return value;
    },
    set(value) {
      Object.defineProperty(globalThis, name, { value, configurable: true, writable: true, enumerable: false });
    },
  });
}

/**
 * Timers on top of the host's sleep: each setTimeout is a promise the host resolves after `ms`, so
 * the isolate needs no event loop of its own and every timer dies with the execution's deadline.
 */
function installTimers(host) {
  let timers;
  const make = () => (timers ??= makeTimers(host));
  for (const name of ["setTimeout", "setInterval", "setImmediate", "clearTimeout", "clearInterval", "clearImmediate"]) {
    lazyGlobal(name, () => make()[name]);
  }
}

/**
 * The host operations (timer sleeps, fetches) the running execution waits on. With none left and
 * its promise still pending, nothing can settle it: the execution reports UnsettledPromiseError at
 * once, as a process runtime does when its event loop runs dry, instead of waiting for the timeout.
 */
let tracker = { ops: 0, idle: null };
function hostOp(promise) {
  const t = tracker;
  t.ops++;
  const done = () => {
    if (--t.ops === 0 && t.idle) t.idle();
  };
  return promiseThen.call(
    promise,
    (value) => (done(), value),
    (error) => {
      done();
      throw error;
    },
  );
}

function makeTimers(host) {
  let sleep;
  let nextId = 1;
  const live = new Set();
  // Each pending sleep holds memory in the host, outside memoryMb: past the cap the host ends the
  // execution for memory, before one more request is even queued to it.
  let pending = 0;
  const later = (fn, ms, args, repeat) => {
    if (pending >= MAX_PENDING_SLEEPS) {
      host(HOST_TOO_MANY_TIMERS);
      throw new RangeError(`more than ${MAX_PENDING_SLEEPS} timers pending at once`);
    }
    const id = nextId++;
    const delay = Math.max(0, Number(ms) || 0);
    live.add(id);
    sleep ??= host(HOST_SLEEP);
    const tick = () => {
      pending++;
      return promiseThen.call(hostOp(sleep.apply(undefined, [delay], { result: { promise: true } })), () => {
        pending--;
        if (!live.has(id)) return;
        if (!repeat) live.delete(id);
        if (typeof fn === "function") fn(...args);
        if (repeat && live.has(id)) tick();
      });
    };
    tick();
    return id;
  };
  const clear = (id) => live.delete(id);
  return {
    setTimeout: (fn, ms, ...args) => later(fn, ms, args, false),
    setInterval: (fn, ms, ...args) => later(fn, ms, args, true),
    setImmediate: (fn, ...args) => later(fn, 0, args, false),
    clearTimeout: clear,
    clearInterval: clear,
    clearImmediate: clear,
  };
}

/** fetch() over the host's bridge, which enforces the allow-list, the timeout and the size cap. */
function installFetch(host) {
  let bridge;
  // Each fetch in flight holds a connection and buffers in the host: past the cap one is refused here.
  let inFlight = 0;
  globalThis.fetch = async (url, init = {}) => {
    if (inFlight >= MAX_FETCHES_IN_FLIGHT) throw new TypeError(`fetch failed: more than ${MAX_FETCHES_IN_FLIGHT} requests in flight`);
    bridge ??= host(HOST_FETCH);
    const request = {
      url: String(url),
      method: String(init.method ?? "GET"),
      headers: Object.fromEntries(Object.entries(init.headers ?? {}).map(([k, v]) => [String(k), String(v)])),
      body: init.body === undefined ? null : String(init.body),
    };
    inFlight++;
    let raw;
    try {
      raw = await hostOp(bridge.apply(undefined, [stringify(request)], { result: { promise: true } }));
    } finally {
      inFlight--;
    }
    const response = JSON.parse(raw);
    if (response.error) throw new TypeError(`fetch failed: ${response.error}`);
    return {
      ok: response.status >= 200 && response.status < 300,
      status: response.status,
      statusText: response.statusText,
      url: response.url,
      headers: new Map(Object.entries(response.headers)),
      text: async () => response.body,
      json: async () => JSON.parse(response.body),
    };
  };
}

/** UTF-8 bytes of `text`, counted only as far as `limit`: returns limit + 1 past it. */
function utf8Bytes(text, limit) {
  if (text.length > limit) return limit + 1;
  if (text.length * 3 <= limit) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const code = charCodeAt(text, i);
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code < 0xdc00 ? 4 : code >= 0xdc00 && code < 0xe000 ? 0 : 3;
  }
  return bytes;
}

/**
 * What the host hands over for the next execution, taken by start() and by nothing else. The host
 * passes it in a strict closure of its own before the user's script runs, so no frame of user code
 * has a host reference in scope or in a caller's arguments.
 */
let handed;
function prepare(host, network, inputsJson, envJson, filename, maxOutputBytes) {
  handed = { host, network, inputsJson, envJson, filename, maxOutputBytes };
}

/**
 * Runs one execution in this context: installs the host bridges, the inputs and env, then calls
 * the user's prepared async function. Resolves with the result as JSON text, the only thing that
 * crosses back to the host; a result over maxOutputBytes crosses as { outputLimit } instead.
 */
function start(fn) {
  if (!handed) throw new Error("nothing to run");
  const { host, network, inputsJson, envJson, filename, maxOutputBytes } = handed;
  handed = undefined;
  // WebAssembly memory is allocated outside the isolate's heap, past memoryLimit (768 MB under a
  // 64 MB limit was measured). V8 puts the global back in every context made from the snapshot,
  // so it goes here, before user code, in every context.
  if (!EXPOSE_WASM) delete globalThis.WebAssembly;
  lazyGlobal("console", () =>
    nodeConsole(
      (stream, text) => void host(HOST_WRITE, stream, text),
      () =>
        String(new Error().stack ?? "")
          .split("\n")
          .slice(3)
          .join("\n"),
    ),
  );
  installTimers(host);
  if (network) installFetch(host);
  const inputs = JSON.parse(inputsJson);
  publishInputs(globalThis, inputs);
  globalThis.process = { env: JSON.parse(envJson) };
  const outputLimit = () => stringify(nullObject({ outputLimit: true }));
  const report = (result) => {
    // A string longer than the cap is over it in any encoding: not worth a copy as JSON first.
    if (typeof result.output === "string" && result.output.length > maxOutputBytes) return outputLimit();
    const json = stringify(nullObject(result));
    return utf8Bytes(json, maxOutputBytes) > maxOutputBytes ? outputLimit() : json;
  };
  const t = (tracker = { ops: 0, idle: null });
  let pending;
  try {
    pending = fn();
  } catch (error) {
    return report({ error: describe(error, filename) });
  }
  return new NativePromise((resolve) => {
    let settled = false;
    const settle = (result) => {
      if (settled) return;
      settled = true;
      t.idle = null;
      resolve(report(result));
    };
    let tick;
    // Asked only when no host operation is pending; confirmed after a round trip, by when every
    // continuation queued before it has run (and may have started a timer).
    t.idle = () => {
      tick ??= host(HOST_TICK);
      promiseThen.call(tick.apply(undefined, [], { result: { promise: true } }), () => {
        if (t.ops === 0) settle({ error: UNSETTLED });
      });
    };
    promiseThen.call(
      promiseResolve(pending),
      (value) => {
        try {
          settle({ output: isPlainJson(value) ? value : toOutput(value) });
        } catch (error) {
          settle({ error: nullObject({ ...describe(error, filename), traceback: "" }) });
        }
      },
      (error) => settle({ error: describe(error, filename) }),
    );
    // Most code settles within a few microtasks: only code still pending then is worth a round trip.
    const afterMicrotasks = (hops, then) => promiseThen.call(promiseResolve(), hops ? () => afterMicrotasks(hops - 1, then) : then);
    afterMicrotasks(3, () => !settled && t.ops === 0 && t.idle?.());
  });
}

const UNSETTLED = nullObject({
  kind: "runtime",
  name: "UnsettledPromiseError",
  message: "the code awaited a promise that nothing is left to settle",
  traceback: "",
});

Object.defineProperty(globalThis, "__coderouter_prepare", { value: prepare, enumerable: false });
Object.defineProperty(globalThis, "__coderouter_start", { value: start, enumerable: false });
