import { z } from "zod";
import { setting } from "@coderouter/core";

/**
 * What E2B's sandboxes run: the code interpreter's Python and JavaScript kernels (TypeScript
 * through the latter), and bash scripts as commands (envd's process API, in every template).
 */
export const E2B_LANGUAGES = ["python", "javascript", "typescript", "bash"] as const;

/** The template E2B's code interpreter runs in; `runCode` needs its interpreter service. */
export const INTERPRETER_TEMPLATE = "code-interpreter-v1";

/**
 * E2B's variables keep the meaning the seeds give them; the SDK's own connection variables
 * (E2B_DOMAIN, E2B_API_URL, E2B_SANDBOX_URL, E2B_DEBUG) are read here too and handed to the SDK
 * explicitly, so a .env file works the same as the process environment.
 */
export const E2B_ENV = {
  E2B_API_KEY: "apiKey",
  E2B_ENABLED: "enabled",
  E2B_TEMPLATE: "template",
  E2B_LANGUAGES: "languages",
  E2B_DOMAIN: "domain",
  E2B_API_URL: "apiUrl",
  E2B_SANDBOX_URL: "sandboxUrl",
  E2B_DEBUG: "debug",
  E2B_POOL_SIZE: "poolSize",
  E2B_POOL_IDLE_MS: "poolIdleMs",
  E2B_MAX_SANDBOXES: "maxSandboxes",
  E2B_SANDBOX_TIMEOUT_MS: "sandboxTimeoutMs",
  E2B_REQUEST_TIMEOUT_MS: "requestTimeoutMs",
  E2B_VCPUS: "vcpus",
  E2B_MEMORY_GB: "memoryGb",
  E2B_PRICE_VCPU_SECOND_USD: "priceVcpuSecondUsd",
  E2B_PRICE_GB_SECOND_USD: "priceGbSecondUsd",
} as const;

export const E2BSettingsSchema = z.object({
  apiKey: setting.string().optional(),
  /** Default: on when a key is present. */
  enabled: setting.boolean().optional(),
  template: setting.string().default(INTERPRETER_TEMPLATE),
  languages: setting.list(E2B_LANGUAGES).default([...E2B_LANGUAGES]),
  domain: setting.string().optional(),
  apiUrl: setting.string().url().optional(),
  sandboxUrl: setting.string().url().optional(),
  debug: setting.boolean().default(false),
  /** Sandboxes kept created and idle, so a request does not wait for one. 0 = create on demand. */
  poolSize: setting.int(0, 100).default(0),
  /** An idle sandbox older than this is killed (and replaced while the pool is below its size). */
  poolIdleMs: setting.int(1000).default(5 * 60_000),
  /** Sandboxes alive at once, idle and busy; a request beyond waits for one to be freed. */
  maxSandboxes: setting.int(1, 10_000).default(20),
  /** The server-side life of an idle sandbox: the safety net that kills it if this process dies. */
  sandboxTimeoutMs: setting.int(10_000, 24 * 3600_000).default(5 * 60_000),
  /** Timeout of each control-plane call (create, kill, contexts). */
  requestTimeoutMs: setting.int(1000).default(30_000),
  /** Size of a sandbox, for the cost estimate: E2B's default is 2 vCPUs and 512 MB. */
  vcpus: setting.number(0.25, 64).default(2),
  memoryGb: setting.number(0.125, 512).default(0.5),
  /** E2B's published per-second prices (2025): $0.000014 per vCPU, $0.0000045 per GiB of RAM. */
  priceVcpuSecondUsd: setting.number(0).default(0.000014),
  priceGbSecondUsd: setting.number(0).default(0.0000045),
});
export type E2BSettings = z.output<typeof E2BSettingsSchema>;

/** Dollars for a sandbox held for `ms`, by the configured size and prices. */
export function costUsd(settings: E2BSettings, ms: number): number {
  const perSecond = settings.vcpus * settings.priceVcpuSecondUsd + settings.memoryGb * settings.priceGbSecondUsd;
  return Number(((perSecond * ms) / 1000).toPrecision(4));
}
