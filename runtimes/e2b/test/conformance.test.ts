import { afterAll, beforeAll, expect, it } from "vitest";
import { runConformance } from "@coderouter/conformance";
import { LocalE2B, runtimeFor } from "./local.js";
import type { E2BRuntime } from "../src/index.js";

const server = new LocalE2B();
const runtimes: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());

const create = (poolSize: number) => () => {
  const runtime = runtimeFor(server, { poolSize });
  runtimes.push(runtime);
  return runtime;
};

// Python may start processes in the sandbox; the JavaScript kernel (Deno's, on E2B) has no require().
runConformance({ name: "e2b (local E2B server)", create: create(2), languages: ["python"], processes: true });
// The JavaScript kernel (as the stand-in models E2B's) does not report an unsettled promise: the cell runs to its timeout.
runConformance({ name: "e2b (local E2B server)", create: create(0), languages: ["javascript", "typescript"], unsettledPromises: false });

it("killed every sandbox it created", async () => {
  for (const runtime of runtimes) await runtime.close();
  const created = runtimes.reduce((n, r) => n + r.counts().created, 0);
  const killed = runtimes.reduce((n, r) => n + r.counts().killed, 0);
  expect(created).toBeGreaterThan(0);
  expect(killed).toBe(created);
  expect(server.stats.created).toBe(created);
  expect(server.live()).toEqual([]);
});
