import { z } from "zod";
import { defineRuntime, setting } from "@coderouter/core";
import { SubprocessRuntime } from "./runtime.js";

export { SubprocessRuntime, type SubprocessSettings } from "./runtime.js";

export default defineRuntime({
  id: "subprocess",
  description: "local python3 / node child process (execa)",
  env: { PYTHON_BIN: "pythonBin", NODE_BIN: "nodeBin" },
  settings: z.object({ pythonBin: setting.string().optional(), nodeBin: setting.string().optional() }),
  create: (settings) => new SubprocessRuntime(settings),
});
