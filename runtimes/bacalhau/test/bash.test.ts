import { afterAll, beforeAll, expect, it } from "vitest";
import { runConformance } from "@coderouter/conformance";
import { LocalBacalhau, runtimeFor } from "./local.js";

const server = new LocalBacalhau({ apiKey: "local-bacalhau-token" });
beforeAll(() => server.start());
afterAll(() => server.close());

// A job whose entrypoint is bash: the payload unpacked by the shell, the script run by the shared runner.
runConformance({ name: "bacalhau (local orchestrator)", create: () => runtimeFor(server), languages: [], processes: true, bash: true });

it("left no job running on the cluster", () => {
  expect(server.active()).toEqual([]);
});
