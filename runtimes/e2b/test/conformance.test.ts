import { afterAll, beforeAll, expect, it } from "vitest";
import { runConformance } from "@coderouter/conformance";
import { LocalE2B, runtimeFor } from "./local.js";
import type { E2BRuntime } from "../src/index.js";

const server = new LocalE2B({ contextDelayMs: 200 });
const runtimes: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());

const create = (poolSize: number, template?: string) => () => {
  const runtime = runtimeFor(server, { poolSize, ...(template ? { template } : {}) });
  runtimes.push(runtime);
  return runtime;
};

// Code may start processes in the sandbox: E2B's JavaScript kernel (ijavascript) has require().
runConformance({ name: "e2b (local E2B server)", create: create(2), languages: ["python"], processes: true });
// The JavaScript kernel (ijavascript, as the stand-in models E2B's) does not report an unsettled promise: the cell runs to its timeout.
runConformance({ name: "e2b (local E2B server)", create: create(0), languages: ["javascript", "typescript"], processes: true, unsettledPromises: false });
// The seeds' E2B_TEMPLATE=base has no code interpreter: code runs as commands through envd.
runConformance({
  name: "e2b (E2B_TEMPLATE=base, envd commands)",
  create: create(1, "base"),
  languages: ["python", "javascript", "typescript"],
  processes: true,
});

it("killed every sandbox it created", async () => {
  for (const runtime of runtimes) await runtime.close();
  const created = runtimes.reduce((n, r) => n + r.counts().created, 0);
  const killed = runtimes.reduce((n, r) => n + r.counts().killed, 0);
  expect(created).toBeGreaterThan(0);
  expect(killed).toBe(created);
  expect(server.stats.created).toBe(created);
  expect(server.live()).toEqual([]);
});
