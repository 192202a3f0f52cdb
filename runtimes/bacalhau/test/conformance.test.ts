import { afterAll, beforeAll, expect, it } from "vitest";
import { runConformance } from "@coderouter/conformance";
import { LocalBacalhau, runtimeFor } from "./local.js";

const server = new LocalBacalhau({ apiKey: "local-bacalhau-token" });
beforeAll(() => server.start());
afterAll(() => server.close());

runConformance({
  name: "bacalhau (local orchestrator)",
  create: () => runtimeFor(server),
  languages: ["python", "javascript", "typescript"],
  processes: true,
  // The job's wrapper does not report an unsettled promise yet: the container waits for the timeout.
  unsettledPromises: false,
});

it("left no job running on the cluster", () => {
  expect(server.active()).toEqual([]);
});
