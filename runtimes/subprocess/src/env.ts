import { dirname } from "node:path";

/** Where a sandboxed interpreter finds programs, and a local one after its own directory. */
export const SYSTEM_PATH = "/usr/local/bin:/usr/bin:/bin";

/**
 * Only what an interpreter needs to run: the host's variables (API keys above all) never reach the
 * code; `extra` (the working directory, the request's own `env`) does. Without an interpreter path,
 * the environment inside the sandbox.
 */
export function interpreterEnv(interpreter: string | undefined, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: interpreter ? `${dirname(interpreter)}:${SYSTEM_PATH}` : SYSTEM_PATH, LANG: "C.UTF-8", ...extra };
}
