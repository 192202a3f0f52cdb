import { describe, expect, it } from "vitest";
import type { NormalizedRequest, RuntimeResult, ExpressionLanguage } from "@coderouter/core";

type Run = (language: ExpressionLanguage, code: string, extra?: Partial<NormalizedRequest>) => Promise<RuntimeResult>;

/**
 * One tenant against the next, for sandboxes inside the host process ("engine": V8 isolates;
 * "wasm": Pyodide and QuickJS): an execution at isolation `sandbox` patches whatever it can reach
 * (json, builtins, the runner, prototypes) to steal later inputs and forge later results; the
 * executions after it must see their own inputs and get their own results. And memory a guest can
 * take outside the engine's heap (WebAssembly) must stay within memoryMb.
 */
export function describeTenantAttacks(language: ExpressionLanguage, run: Run): void {
  const sandboxed = (code: string, extra: Partial<NormalizedRequest> = {}) => run(language, code, { isolation: "sandbox", ...extra });
  const secret = { secret: "tenant-b-secret", nested: { list: [3, 1, 2] } };

  describe("security: one tenant cannot reach the next", () => {
    const attack = language === "python" ? PYTHON_PATCHES : JS_PATCHES;
    const probe = language === "python" ? PYTHON_PROBE : JS_PROBE;

    it("an execution that patches json, builtins and the runner changes nothing for later ones", async () => {
      // Several rounds: with a pool of interpreters, a later execution may land on any of them.
      // Its own result is the attacker's business (it may well have forged it): only later ones count.
      for (let round = 0; round < 3; round++) await sandboxed(attack);
      for (let round = 0; round < 3; round++) {
        const victim = await sandboxed(probe, { inputs: secret });
        expect(victim.error, JSON.stringify(victim.error)).toBeUndefined();
        expect(victim.output).toEqual({ sorted: [1, 2, 3], length: 3, inputs: secret, stolen: null, polluted: null });
      }
    }, 180_000);
  });

  if (language !== "python") {
    describe("security: memory outside the heap", () => {
      it("keeps WebAssembly memory within memoryMb (or offers no WebAssembly)", async () => {
        const before = process.memoryUsage().rss;
        const result = await sandboxed(WASM_MEMORY, { memoryMb: 64, timeoutMs: 10_000 });
        const committedMb = typeof result.output === "number" ? result.output : 0;
        expect(committedMb).toBeLessThanOrEqual(64);
        expect(process.memoryUsage().rss - before).toBeLessThan(256 * 1024 * 1024);
        const next = await sandboxed("1 + 1");
        expect(next.output).toBe(2);
      });
    });
  }
}

/** Commits as much WebAssembly memory as it can, 64 MB at a time, and says how many MB it got. */
const WASM_MEMORY = `if (typeof WebAssembly === "undefined") return 0
const held = []
try {
  for (let i = 0; i < 16; i++) {
    const memory = new WebAssembly.Memory({ initial: 1024 })
    new Uint8Array(memory.buffer).fill(1)
    held.push(memory)
  }
} catch {}
held.length * 64`;

const PYTHON_PATCHES = `import builtins, json, sys, types
builtins._stolen = []
original = json.loads
json._real_loads = types.FunctionType(original.__code__, original.__globals__, "loads", original.__defaults__, original.__closure__)
json._real_loads.__kwdefaults__ = original.__kwdefaults__
json._builtins = builtins
def loads(text, *args, **kwargs):
    value = _real_loads(text, *args, **kwargs)
    _builtins._stolen.append(value)
    return value
def dumps(*args, **kwargs):
    return '{"output": "forged"}'
# The function objects the runner and the worker already hold are patched in place, not only the names.
for target, fake in [(json.loads, loads), (json.dumps, dumps)]:
    try:
        target.__code__ = fake.__code__
    except Exception:
        pass
builtins.sorted = lambda *args, **kwargs: ["forged"]
builtins.len = lambda value: -1
builtins.polluted = "yes"
for name, module in list(sys.modules.items()):
    if "coderouter" in name and hasattr(module, "run"):
        try:
            module.run.__code__ = (lambda *args, **kwargs: "forged").__code__
        except Exception:
            module.run = lambda *args, **kwargs: "forged"
"patched"`;

const PYTHON_PROBE = `import builtins
{"sorted": sorted(inputs["nested"]["list"]), "length": len("abc"), "inputs": inputs,
 "stolen": getattr(builtins, "_stolen", None), "polluted": getattr(builtins, "polluted", None)}`;

const JS_PATCHES = `globalThis.stolen = []
const parse = JSON.parse
JSON.parse = (text) => { const value = parse(text); globalThis.stolen.push(value); return value }
JSON.stringify = () => '{"output":"forged"}'
Array.prototype.sort = function () { return ["forged"] }
String.prototype.toString = () => "forged"
Object.prototype.polluted = "yes"
for (const name of Object.getOwnPropertyNames(globalThis)) {
  if (name.startsWith("__coderouter")) try { globalThis[name] = () => '{"output":"forged"}' } catch {}
}
"patched"`;

const JS_PROBE = `({ sorted: [...inputs.nested.list].sort(), length: "abc".length, inputs,
  stolen: globalThis.stolen ?? null, polluted: ({}).polluted ?? null })`;
