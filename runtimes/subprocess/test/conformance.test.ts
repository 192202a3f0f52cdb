import { runConformance } from "@coderouter/conformance";
import { SubprocessRuntime } from "../src/index.js";

runConformance({
  name: "subprocess",
  create: () => new SubprocessRuntime({}),
  languages: ["python", "javascript", "typescript"],
  processes: true,
});
