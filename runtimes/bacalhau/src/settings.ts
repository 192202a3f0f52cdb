import { z } from "zod";
import { setting } from "@coderouter/core";

/** BACALHAU_API_HOST / BACALHAU_API_PORT are the names the bacalhau CLI reads. */
export const BACALHAU_ENV = {
  BACALHAU_API_HOST: "host",
  BACALHAU_API_PORT: "port",
  BACALHAU_API_TLS: "tls",
  BACALHAU_API_KEY: "apiKey",
  BACALHAU_IMAGE_PYTHON: "pythonImage",
  BACALHAU_IMAGE_NODE: "nodeImage",
  BACALHAU_CPU: "cpu",
  BACALHAU_MEMORY: "memory",
  BACALHAU_NAMESPACE: "namespace",
  BACALHAU_POLL_MS: "pollMs",
  BACALHAU_PRICE_SECOND_USD: "priceSecondUsd",
} as const;

export const BacalhauSettingsSchema = z.object({
  /** Unset: Bacalhau is not configured, and the router rules it out saying so. */
  host: setting.string().optional(),
  port: setting.int(1, 65535).default(1234),
  tls: setting.boolean().default(false),
  apiKey: setting.string().optional(),
  pythonImage: setting.string().default("python:3.12-slim"),
  nodeImage: setting.string().default("node:22-slim"),
  /** Resources each job asks for, in Bacalhau's units ("1", "500m"; "1gb", "512mb"). */
  cpu: setting.string().default("1"),
  memory: setting.string().optional(),
  namespace: setting.string().default("default"),
  /** How often a job's state is polled while it runs. */
  pollMs: setting.int(20, 60_000).default(500),
  /** What a second of a job costs on your cluster, for metadata.costUsd. */
  priceSecondUsd: setting.number(0).default(0),
});
export type BacalhauSettings = z.output<typeof BacalhauSettingsSchema>;
