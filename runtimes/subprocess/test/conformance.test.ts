import { runConformance } from "@coderouter/conformance";
import definition, { SubprocessRuntime } from "../src/index.js";

// As shipped: Python through warm fork-servers (the first executions start cold while they warm).
runConformance({
  name: "subprocess",
  create: () => definition.create(definition.settings.parse({}), { defaultTimeoutMs: 30_000, maxOutputBytes: 1 << 20 }),
  languages: ["python", "javascript", "typescript"],
  processes: true,
  hostile: true,
});

// Every execution a cold interpreter start: the path taken when no fork-server is idle.
runConformance({
  name: "subprocess, cold starts only",
  create: () => new SubprocessRuntime({ forkServers: 0 }),
  languages: ["python"],
  processes: true,
});
