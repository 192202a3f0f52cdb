import type { Language, RuntimeResult } from "@coderouter/core";
import { importedModules } from "./imports.js";

/** Messages with which interpreters say a module is missing, and where they put its name. */
const MISSING = [
  /^No module named '([^'.]+)/, // CPython and Pyodide
  /^Cannot find module '([^'./][^']*)'/, // Node's require
  /^Cannot find package '([^'./][^']*)'/, // Node's import
];
/** Runtimes with no module loader at all (the isolate, QuickJS): the module comes from the code. */
const NO_LOADER = /^'?require'? is not defined$|^Not supported$/;

/**
 * When code imports a module the runtime does not have, the error says which one and the ways
 * out: install it into a session, pass `packages`, or enable E2B, whose sandboxes can install it.
 * The original message stays first, so nothing that matched on it breaks.
 */
export function withModuleHint(result: RuntimeResult, code: string): RuntimeResult {
  const { error } = result;
  if (!error || error.kind !== "runtime") return result;
  const context = { language: result.language, code, runtime: result.runtime };
  const module = missingModule(error.message, context);
  if (!module) return result;
  const python = context.language === "python";
  const pkg = module.startsWith("@") ? module : module.split("/")[0]!;
  const remote = context.runtime === "e2b";
  const ways = [
    context.runtime === "subprocess" || remote
      ? `install it into a session (session.installPackages(["${pkg}"]), POST /v1/sessions/:id/packages, or the MCP tool install_package)`
      : `install it into a session on the subprocess runtime (runtime: "subprocess"; session.installPackages(["${pkg}"]) or the MCP tool install_package)`,
    `pass packages: ["${pkg}"] so the request goes to a runtime that installs them (e2b, or subprocess into a cached environment)`,
    ...(remote
      ? []
      : [
          `enable E2B (set E2B_API_KEY) so that auto routing sends code with imports missing here to a sandbox that can ${python ? "pip" : "npm"} install them`,
        ]),
  ];
  const what = NO_LOADER.test(error.message)
    ? `the ${context.runtime} runtime has no module loader, so "${module}" cannot be imported there`
    : `the module "${module}" is not installed on the ${context.runtime} runtime`;
  return { ...result, error: { ...error, message: `${error.message}\n${what}: ${ways.join("; or ")}` } };
}

function missingModule(message: string, context: { language: Language; code: string }): string | undefined {
  for (const pattern of MISSING) {
    const found = message.match(pattern)?.[1];
    if (found) return found;
  }
  if (NO_LOADER.test(message)) return importedModules(context.language, context.code).find((m) => !m.startsWith("node:"));
  return undefined;
}
