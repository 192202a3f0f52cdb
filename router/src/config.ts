import { z } from "zod";
import { IsolationSchema, readSettings, setting } from "@coderouter/core";

/**
 * The router's own settings: every default a request falls back to lives here, once. Each runtime
 * declares its own variables (E2B_*, PYTHON_BIN, …) in its definition.
 */
export const RouterSettingsSchema = z.object({
  defaultTimeoutMs: setting.int(1, 24 * 3600_000).default(30_000),
  maxOutputBytes: setting.int(1024).default(1024 * 1024),
  memoryMb: setting.int(16).default(1024),
  defaultIsolation: IsolationSchema.default("none"),
  /** The runtimes the router may use; unset, every registered one. Checked against the registry. */
  enabledRuntimes: setting.names().optional(),
  /** Plug-ins to register besides those given in code, each `id=module` (a package or a path). */
  runtimePlugins: setting.names().default([]),
  availabilityTtlMs: setting.int(0).default(30_000),
  maxSessions: setting.int(0).default(64),
  sessionIdleTimeoutMs: setting.int(1).default(10 * 60_000),
});
export type RouterSettings = z.output<typeof RouterSettingsSchema>;

/** Environment variable → settings key. `.env.example` documents each one. */
export const ROUTER_ENV = {
  E2B_TIMEOUT_MS: "defaultTimeoutMs",
  CODEROUTER_MAX_OUTPUT_BYTES: "maxOutputBytes",
  CODEROUTER_MEMORY_MB: "memoryMb",
  CODEROUTER_ISOLATION: "defaultIsolation",
  CODEROUTER_RUNTIMES: "enabledRuntimes",
  CODEROUTER_RUNTIME_PLUGINS: "runtimePlugins",
  CODEROUTER_AVAILABILITY_TTL_MS: "availabilityTtlMs",
  CODEROUTER_MAX_SESSIONS: "maxSessions",
  CODEROUTER_SESSION_IDLE_MS: "sessionIdleTimeoutMs",
} as const;

export function readRouterSettings(env: Record<string, string | undefined>, overrides: Partial<RouterSettings> = {}): RouterSettings {
  return readSettings(RouterSettingsSchema, ROUTER_ENV, env, overrides);
}
