import {
  readSettings,
  RuntimeNotInstalledError,
  type Availability,
  type Runtime,
  type RuntimeDefinition,
  type RuntimeId,
  type SharedSettings,
} from "@coderouter/core";

/** The package that implements each runtime; imported only when the runtime is first needed. */
const PACKAGES: Record<RuntimeId, string> = {
  isolate: "@coderouter/runtime-isolate",
  subprocess: "@coderouter/runtime-subprocess",
  wasm: "@coderouter/runtime-wasm",
  e2b: "@coderouter/runtime-e2b",
  bacalhau: "@coderouter/runtime-bacalhau",
};

type Slot =
  | { state: "ready"; runtime: Runtime }
  | { state: "missing"; error: RuntimeNotInstalledError };

interface CachedAvailability {
  at: number;
  value: Availability;
}

/**
 * Knows every runtime id, loads a backend's package on first use (so a user who never enables E2B
 * never loads its SDK), creates one instance per runtime, and caches availability probes.
 */
export class Registry {
  private readonly slots = new Map<RuntimeId, Promise<Slot>>();
  private readonly availabilityCache = new Map<RuntimeId, CachedAvailability>();

  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly shared: SharedSettings,
    private readonly availabilityTtlMs: number,
    private readonly provided: Partial<Record<RuntimeId, Runtime>> = {},
    private readonly overrides: Partial<Record<RuntimeId, Record<string, unknown>>> = {},
  ) {}

  /** The runtime instance, or a RuntimeNotInstalledError saying what to install. */
  load(id: RuntimeId): Promise<Slot> {
    let slot = this.slots.get(id);
    if (!slot) {
      slot = this.create(id);
      this.slots.set(id, slot);
    }
    return slot;
  }

  async availability(runtime: Runtime): Promise<Availability> {
    const cached = this.availabilityCache.get(runtime.id);
    const now = Date.now();
    if (cached && now - cached.at < this.availabilityTtlMs) return cached.value;
    let value: Availability;
    try {
      value = await runtime.availability();
    } catch (error) {
      value = { available: false, reason: `availability check failed: ${(error as Error).message}` };
    }
    this.availabilityCache.set(runtime.id, { at: now, value });
    return value;
  }

  /** Forgets a cached availability, after the runtime failed for infrastructure reasons. */
  invalidate(id: RuntimeId): void {
    this.availabilityCache.delete(id);
  }

  /** The runtimes created so far (loading none that is not). */
  async loaded(): Promise<Runtime[]> {
    const slots = await Promise.all(this.slots.values());
    return slots.flatMap((slot) => (slot.state === "ready" ? [slot.runtime] : []));
  }

  async close(): Promise<void> {
    // A runtime whose settings were refused was never created: its error was reported where it was loaded.
    const slots = (await Promise.allSettled(this.slots.values())).flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
    this.slots.clear();
    await Promise.all(slots.map((slot) => (slot.state === "ready" ? slot.runtime.close() : undefined)));
  }

  private async create(id: RuntimeId): Promise<Slot> {
    const provided = this.provided[id];
    if (provided) return { state: "ready", runtime: provided };
    const name = PACKAGES[id];
    let definition: RuntimeDefinition;
    try {
      definition = ((await import(name)) as { default: RuntimeDefinition }).default;
    } catch (error) {
      if ((error as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw error;
      const message = (error as Error).message;
      const hint = message.includes(`'${name}'`)
        ? `the package ${name} is not part of this installation (npm install ${name})`
        : `${name} could not load a dependency: ${message}`;
      return { state: "missing", error: new RuntimeNotInstalledError(id, hint, { cause: error, fix: `npm install ${name}` }) };
    }
    // A bad value in this runtime's variables is a ConfigError naming the variable; it propagates.
    const settings = readSettings(definition.settings, definition.env, this.env, this.overrides[id]);
    return { state: "ready", runtime: definition.create(settings, this.shared) };
  }
}
