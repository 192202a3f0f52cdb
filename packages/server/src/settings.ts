import { z } from "zod";
import { ConfigError, IsolationSchema } from "coderouter";
import { readSettings, setting } from "coderouter/runtime-kit";

export const ServerSettingsSchema = z.object({
  host: setting.string().default("127.0.0.1"),
  port: setting.int(0, 65_535).default(8787),
  token: setting.string().optional(),
  bodyLimitBytes: setting.int(1024).default(10 * 1024 * 1024),
  concurrency: setting.int(1, 10_000).default(32),
  queue: setting.int(0, 100_000).default(256),
  shutdownTimeoutMs: setting.int(0).default(10_000),
  /** Host names clients use beside IP addresses and localhost (a Host header naming anything else is refused). */
  allowedHosts: setting.names().default([]),
  /** Web origins whose pages may call the API (CORS); any other Origin is refused. */
  corsOrigins: setting.names().default([]),
  /** Isolation of HTTP requests and sessions that name none; unset: sandbox where a sandbox is ready. */
  defaultIsolation: IsolationSchema.optional(),
});
export type ServerSettings = z.output<typeof ServerSettingsSchema>;

export const SERVER_ENV = {
  CODEROUTER_HOST: "host",
  CODEROUTER_PORT: "port",
  CODEROUTER_API_TOKEN: "token",
  CODEROUTER_BODY_LIMIT_BYTES: "bodyLimitBytes",
  CODEROUTER_CONCURRENCY: "concurrency",
  CODEROUTER_QUEUE: "queue",
  CODEROUTER_SHUTDOWN_TIMEOUT_MS: "shutdownTimeoutMs",
  CODEROUTER_ALLOWED_HOSTS: "allowedHosts",
  CODEROUTER_CORS_ORIGINS: "corsOrigins",
  CODEROUTER_DEFAULT_ISOLATION: "defaultIsolation",
} as const;

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** The server's settings from the environment and overrides; beyond loopback a token is required. */
export function readServerSettings(env: NodeJS.ProcessEnv, overrides: Partial<ServerSettings>): ServerSettings {
  const settings = readSettings(ServerSettingsSchema, SERVER_ENV, env, overrides);
  if (!LOOPBACK.has(settings.host) && !settings.token) {
    throw new ConfigError(
      `CODEROUTER_API_TOKEN is required to listen on ${settings.host}, beyond loopback: set it, or listen on 127.0.0.1`,
      "CODEROUTER_API_TOKEN",
    );
  }
  return settings;
}
