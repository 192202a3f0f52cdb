import {
  ConfigError,
  readSettings,
  RUNTIME_CONTRACT_VERSION,
  RuntimeIdSchema,
  RuntimeNotInstalledError,
  type Availability,
  type Runtime,
  type RuntimeDefinition,
  type RuntimeId,
  type SharedSettings,
} from "@coderouter/core";
import { BUILTIN_RUNTIMES, type LazyRuntime } from "./builtins.js";

/** What `createRouter({ runtimes })` takes: definitions made with defineRuntime, or ready instances. */
export type RuntimePlugin = RuntimeDefinition | Runtime;

type Entry = { kind: "lazy"; lazy: LazyRuntime } | { kind: "definition"; definition: RuntimeDefinition } | { kind: "instance"; runtime: Runtime };

type Slot = { state: "ready"; runtime: Runtime } | { state: "missing"; error: RuntimeNotInstalledError };

interface CachedAvailability {
  at: number;
  value: Availability;
}

/**
 * Knows every runtime registered, built-in or plug-in, in order; loads a lazy one's package on
 * first use; creates one instance per runtime; checks each definition's contract version; and
 * caches availability probes.
 */
export class Registry {
  private readonly entries = new Map<RuntimeId, Entry>();
  private readonly slots = new Map<RuntimeId, Promise<Slot>>();
  private readonly availabilityCache = new Map<RuntimeId, CachedAvailability>();

  constructor(
    private readonly env: Record<string, string | undefined>,
    private readonly shared: SharedSettings,
    private readonly availabilityTtlMs: number,
    plugins: (RuntimePlugin | LazyRuntime)[] = [],
    private readonly overrides: Partial<Record<RuntimeId, Record<string, unknown>>> = {},
    builtins = true,
  ) {
    if (builtins) for (const lazy of BUILTIN_RUNTIMES) this.entries.set(lazy.id, { kind: "lazy", lazy });
    const added = new Set<RuntimeId>();
    for (const plugin of plugins) {
      const entry = toEntry(plugin);
      const id = entry.kind === "definition" ? entry.definition.id : entry.kind === "lazy" ? entry.lazy.id : entry.runtime.id;
      if (added.has(id)) throw new ConfigError(`two runtimes are registered as "${id}": give each plug-in its own id`, "runtimes");
      added.add(id);
      // A plug-in with a built-in's id replaces the built-in, keeping its place in the order.
      this.entries.set(id, entry);
    }
  }

  /** Every registered id, built-ins first, in registration order. */
  ids(): RuntimeId[] {
    return [...this.entries.keys()];
  }

  has(id: RuntimeId): boolean {
    return this.entries.has(id);
  }

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
    const entry = this.entries.get(id);
    if (!entry) throw new ConfigError(`no runtime is registered as "${id}"`, "runtimes");
    if (entry.kind === "instance") return { state: "ready", runtime: entry.runtime };
    let definition: RuntimeDefinition;
    if (entry.kind === "definition") definition = entry.definition;
    else {
      const name = entry.lazy.packageName;
      try {
        definition = checkDefinition(await entry.lazy.load());
        if (definition.id !== id) {
          throw new ConfigError(
            `${name} defines runtime "${definition.id}", registered as "${id}": use ${definition.id}=${name}`,
            "CODEROUTER_RUNTIME_PLUGINS",
          );
        }
      } catch (error) {
        if ((error as { code?: string }).code !== "ERR_MODULE_NOT_FOUND") throw error;
        const message = (error as Error).message;
        const hint = message.includes(`'${name}'`)
          ? `the package ${name} is not part of this installation (npm install ${name})`
          : `${name} could not load a dependency: ${message}`;
        return { state: "missing", error: new RuntimeNotInstalledError(id, hint, { cause: error, fix: `npm install ${name}` }) };
      }
    }
    // A bad value in this runtime's variables is a ConfigError naming the variable; it propagates.
    const settings = readSettings(definition.settings, definition.env, this.env, this.overrides[id]);
    return { state: "ready", runtime: definition.create(settings, this.shared) };
  }
}

function toEntry(plugin: RuntimePlugin | LazyRuntime): Entry {
  if ("packageName" in plugin && typeof plugin.load === "function") {
    checkId(plugin.id);
    return { kind: "lazy", lazy: plugin };
  }
  if (plugin && typeof (plugin as RuntimeDefinition).create === "function")
    return { kind: "definition", definition: checkDefinition(plugin as RuntimeDefinition) };
  const runtime = plugin as Runtime;
  if (!runtime || typeof runtime.execute !== "function" || typeof runtime.capabilities !== "function") {
    throw new ConfigError("each entry of runtimes must be a definition made with defineRuntime, or a Runtime instance", "runtimes");
  }
  checkId(runtime.id);
  return { kind: "instance", runtime };
}

/** Refuses, at registration, a definition built for another contract or with an unusable id. */
function checkDefinition(definition: RuntimeDefinition): RuntimeDefinition {
  checkId(definition.id);
  if (definition.contractVersion !== RUNTIME_CONTRACT_VERSION) {
    throw new ConfigError(
      `runtime "${definition.id}" implements runtime contract ${definition.contractVersion ?? "(none)"}, this coderouter implements ${RUNTIME_CONTRACT_VERSION}: ` +
        "rebuild the plug-in with defineRuntime from this version of coderouter",
      "runtimes",
    );
  }
  return definition;
}

function checkId(id: unknown): void {
  const parsed = RuntimeIdSchema.safeParse(id);
  if (!parsed.success) throw new ConfigError(`invalid runtime id ${JSON.stringify(id)}: ${parsed.error.issues[0]?.message}`, "runtimes");
}
