import { runConformance } from "@coderouter/conformance";
import definition from "../src/index.js";

// The whole suite again, every execution inside bubblewrap (isolation: "sandbox"), with the
// security section. .ci/run installs bubblewrap; the runtime's defaults are the shipped ones.
runConformance({
  name: "subprocess in the bubblewrap sandbox",
  create: () => definition.create(definition.settings.parse({}), { defaultTimeoutMs: 30_000, maxOutputBytes: 1 << 20 }),
  languages: ["python", "javascript", "typescript"],
  processes: true,
  sandbox: "os",
  request: { isolation: "sandbox" },
});
