import type { Sandbox } from "@e2b/code-interpreter";
import type { E2BSettings } from "./settings.js";

export type { Sandbox, Execution, Result, OutputMessage, Context } from "@e2b/code-interpreter";
export type SandboxClass = typeof Sandbox;
type Sdk = Pick<typeof import("@e2b/code-interpreter"), "E2B">;

/** The SDK is imported on first use: a user who never enables E2B never loads it (~60 ms). */
let sdk: Promise<Sdk> | undefined;
export function loadSdk(): Promise<Sdk> {
  return (sdk ??= import("@e2b/code-interpreter"));
}

/**
 * A Sandbox class bound to this runtime's connection settings. Settings are passed explicitly
 * (not left to the SDK's own process.env lookups) so values from a .env file or from
 * createRouter() options reach it too.
 */
export async function sandboxClass(settings: E2BSettings): Promise<SandboxClass> {
  const { E2B } = await loadSdk();
  const options = {
    apiKey: settings.apiKey,
    domain: settings.domain,
    apiUrl: settings.apiUrl,
    sandboxUrl: settings.sandboxUrl,
    debug: settings.debug,
    requestTimeoutMs: settings.requestTimeoutMs,
  };
  const bound = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return new E2B(bound).Sandbox;
}
