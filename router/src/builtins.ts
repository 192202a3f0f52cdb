import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigError, type RuntimeDefinition } from "@coderouter/core";

/** A runtime the registry knows before it is loaded: its id and how to import its definition. */
export interface LazyRuntime {
  id: string;
  /** The package to suggest when the import fails. */
  packageName: string;
  load(): Promise<RuntimeDefinition>;
}

const lazy = (id: string, target: string, packageName = target): LazyRuntime => ({
  id,
  packageName,
  load: async () => ((await import(target)) as { default: RuntimeDefinition }).default,
});

/**
 * The runtimes that ship with coderouter, registered like any plug-in; each package is imported
 * only when its runtime is first needed, so a user who never enables E2B never loads its SDK.
 */
export const BUILTIN_RUNTIMES: readonly LazyRuntime[] = [
  lazy("isolate", "@coderouter/runtime-isolate"),
  lazy("subprocess", "@coderouter/runtime-subprocess"),
  lazy("wasm", "@coderouter/runtime-wasm"),
  lazy("e2b", "@coderouter/runtime-e2b"),
  lazy("bacalhau", "@coderouter/runtime-bacalhau"),
];

/**
 * CODEROUTER_RUNTIME_PLUGINS entries, `id=module`: plug-ins for the CLI and the server, which
 * cannot be handed definitions in code. A module is a package name or a path (relative to the
 * working directory); its default export is the definition, loaded on first use like a built-in.
 */
export function pluginsFromEnv(entries: string[]): LazyRuntime[] {
  return entries.map((entry) => {
    const match = /^([^=]+)=(.+)$/.exec(entry);
    if (!match) throw new ConfigError(`invalid CODEROUTER_RUNTIME_PLUGINS entry "${entry}": expected id=module`, "CODEROUTER_RUNTIME_PLUGINS");
    const [, id, specifier] = match as unknown as [string, string, string];
    const local = specifier.startsWith(".") || isAbsolute(specifier);
    const target = local ? pathToFileURL(resolve(specifier)).href : specifier;
    return lazy(id.trim(), target, specifier.trim());
  });
}
