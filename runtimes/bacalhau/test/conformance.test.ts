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
});

it("left no job running on the cluster", () => {
  expect(server.active()).toEqual([]);
});
