import { z } from "zod";
import { setting } from "@coderouter/core";

/**
 * The orchestrator's address and TLS options under the names the bacalhau CLI (v1.7+) reads:
 * config keys API.Host, API.Port, API.TLS.UseTLS / Insecure / CAFile as BACALHAU_<KEY>. The
 * v1.5-v1.6 CLI's names (BACALHAU_API_TLS / _INSECURE / _CACERT) are still read; the newer win.
 */
export const BACALHAU_ENV = {
  BACALHAU_API_HOST: "host",
  BACALHAU_API_PORT: "port",
  BACALHAU_API_TLS: "tls",
  BACALHAU_API_INSECURE: "insecure",
  BACALHAU_API_CACERT: "caFile",
  BACALHAU_API_TLS_USETLS: "tls",
  BACALHAU_API_TLS_INSECURE: "insecure",
  BACALHAU_API_TLS_CAFILE: "caFile",
  BACALHAU_API_KEY: "apiKey",
  BACALHAU_IMAGE_PYTHON: "pythonImage",
  BACALHAU_IMAGE_NODE: "nodeImage",
  BACALHAU_IMAGE_BASH: "bashImage",
  BACALHAU_CPU: "cpu",
  BACALHAU_MEMORY: "memory",
  BACALHAU_NAMESPACE: "namespace",
  BACALHAU_POLL_MS: "pollMs",
  BACALHAU_START_TIMEOUT_MS: "startTimeoutMs",
  BACALHAU_MAX_PAYLOAD_BYTES: "maxPayloadBytes",
  BACALHAU_PAYLOAD_URL: "payloadUrl",
  BACALHAU_PAYLOAD_LISTEN: "payloadListen",
  BACALHAU_PRICE_SECOND_USD: "priceSecondUsd",
} as const;

export const BacalhauSettingsSchema = z.object({
  /** Unset: Bacalhau is not configured, and the router rules it out saying so. */
  host: setting.string().optional(),
  port: setting.int(1, 65535).default(1234),
  tls: setting.boolean().default(false),
  insecure: setting.boolean().default(false),
  caFile: setting.string().optional(),
  apiKey: setting.string().optional(),
  pythonImage: setting.string().default("python:3.12-slim"),
  nodeImage: setting.string().default("node:22-slim"),
  /** Runs bash scripts: any image with bash, coreutils, gzip and base64 (Debian's slim one has them). */
  bashImage: setting.string().default("debian:bookworm-slim"),
  /**
   * CPU each job asks for ("500m", "1"): Bacalhau's own default. A node offers 80% of its CPUs,
   * so "1" cannot be placed on a 1-vCPU node.
   */
  cpu: setting.string().default("500m"),
  /** Memory for jobs whose request sets no memoryMb, in Bacalhau's units ("1gib"; "1gb" is 10^9 bytes). */
  memory: setting.string().optional(),
  namespace: setting.string().default("default"),
  /** How often a job's state is polled while it runs. */
  pollMs: setting.int(20, 60_000).default(500),
  /** How long scheduling and the image pull may take before the code starts (off the request's clock). */
  startTimeoutMs: setting.int(1000, 24 * 3600_000).default(300_000),
  /** The largest code + inputs (compressed) a job may carry; the API takes 10 MB, NATS messages 1 MB. */
  maxPayloadBytes: setting.int(1024, 8_000_000).default(512 * 1024),
  /**
   * Set: coderouter serves each job's payload itself and the job carries only its URL, which the
   * compute nodes download before the container starts. The URL at which nodes reach coderouter.
   */
  payloadUrl: setting
    .string()
    .refine((value) => /^https?:\/\//.test(value) && URL.canParse(value), "an http(s) URL the compute nodes can reach")
    .optional(),
  /** Where the payload server listens, "host:port" (default: the host and port of payloadUrl). */
  payloadListen: setting
    .string()
    .regex(/^\[?[^\s\]]*\]?:\d{1,5}$/, "host:port")
    .optional(),
  /** What a second of a job costs on your cluster, for metadata.costUsd. */
  priceSecondUsd: setting.number(0).default(0),
});
export type BacalhauSettings = z.output<typeof BacalhauSettingsSchema>;
