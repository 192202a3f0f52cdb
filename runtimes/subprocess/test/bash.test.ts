import { runConformance } from "@coderouter/conformance";
import definition from "../src/index.js";

const create = () => definition.create(definition.settings.parse({}), { defaultTimeoutMs: 30_000, maxOutputBytes: 1 << 20 });

// The bash section of the suite, plain (a process in a PID namespace of its own) and sandboxed.
runConformance({ name: "subprocess", create, languages: [], processes: true, bash: true });
runConformance({
  name: "subprocess in the bubblewrap sandbox",
  create,
  languages: [],
  processes: true,
  bash: true,
  sandbox: "os",
  request: { isolation: "sandbox" },
});
