import { afterAll, beforeAll, expect, it } from "vitest";
import { runConformance } from "@coderouter/conformance";
import { LocalE2B, runtimeFor } from "./local.js";
import type { E2BRuntime } from "../src/index.js";

const server = new LocalE2B({ contextDelayMs: 200 });
const runtimes: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());

const create = (template?: string) => () => {
  const runtime = runtimeFor(server, { poolSize: 1, ...(template ? { template } : {}) });
  runtimes.push(runtime);
  return runtime;
};

// Scripts run through envd's process API (commands.run) in the code interpreter's template and in
// the seeds' E2B_TEMPLATE=base alike; the stand-in's processes are local, so `ps` sees what they leave.
runConformance({ name: "e2b (local E2B server)", create: create(), languages: [], processes: true, bash: true });
runConformance({ name: "e2b (E2B_TEMPLATE=base, envd commands)", create: create("base"), languages: [], processes: true, bash: true });

it("killed every sandbox it created", async () => {
  for (const runtime of runtimes) await runtime.close();
  const created = runtimes.reduce((n, r) => n + r.counts().created, 0);
  expect(created).toBeGreaterThan(0);
  expect(runtimes.reduce((n, r) => n + r.counts().killed, 0)).toBe(created);
  expect(server.live()).toEqual([]);
});
