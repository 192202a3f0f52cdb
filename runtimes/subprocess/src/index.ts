import { isAbsolute } from "node:path";
import { z } from "zod";
import { defineRuntime, setting } from "@coderouter/core";
import { defaultSandboxPython } from "./interpreters.js";
import { PACKAGE_CACHE_DEFAULTS } from "./package-cache.js";
import { SubprocessRuntime } from "./runtime.js";

export { SubprocessRuntime, type SubprocessSettings } from "./runtime.js";
export { Bubblewrap, type SandboxSettings } from "./sandbox.js";
export { defaultSandboxPython } from "./interpreters.js";
export { defaultPackageCacheDir, environmentKey, normaliseSpecs, PackageCache, type PackageCacheSettings, type PackageEnvironment } from "./package-cache.js";
export { ExecutionCgroups } from "./cgroup.js";

export default defineRuntime({
  id: "subprocess",
  description: "local python3 / node child process (execa), sandboxed with bubblewrap on request",
  env: {
    PYTHON_BIN: "pythonBin",
    NODE_BIN: "nodeBin",
    SUBPROCESS_SANDBOX: "sandbox",
    BWRAP_BIN: "bwrapBin",
    SUBPROCESS_SANDBOX_PYTHON_BIN: "sandboxPythonBin",
    SUBPROCESS_SANDBOX_NODE_BIN: "sandboxNodeBin",
    SUBPROCESS_SANDBOX_NETWORK: "sandboxNetwork",
    SUBPROCESS_SANDBOX_DISK_MB: "sandboxDiskMb",
    SUBPROCESS_SANDBOX_PROCESSES: "sandboxProcesses",
    SUBPROCESS_FORK_SERVERS: "forkServers",
    SUBPROCESS_FORK_SERVERS_MAX: "forkServersMax",
    BASH_BIN: "bashBin",
    SUBPROCESS_PACKAGE_CACHE: "packageCache",
    SUBPROCESS_PACKAGE_CACHE_MB: "packageCacheMb",
    SUBPROCESS_PACKAGE_INSTALL_TIMEOUT_MS: "packageInstallTimeoutMs",
  },
  settings: z
    .object({
      pythonBin: setting.string().optional(),
      nodeBin: setting.string().optional(),
      sandbox: z.enum(["auto", "bwrap"], { error: "expected auto or bwrap" }).default("auto"),
      bwrapBin: setting.string().default("bwrap"),
      // The sandbox runs as an unprivileged uid that cannot read a home directory: by default the
      // plain mode's Python when it is a system one, else /usr/bin/python3 (defaultSandboxPython).
      sandboxPythonBin: setting.string().optional(),
      sandboxNodeBin: setting.string().default(process.execPath),
      sandboxNetwork: setting.boolean().default(false),
      sandboxDiskMb: setting.int(1, 65_536).default(64),
      sandboxProcesses: setting.int(1, 4096).default(64),
      forkServers: setting.int(0, 64).default(2),
      // The ceiling a mode's pool grows to while requests wait for a fork-server; twice the floor by default.
      forkServersMax: setting.int(0, 64).optional(),
      bashBin: setting.string().default("/bin/bash"),
      // Default: ~/.cache/coderouter/packages, or a private folder in the temporary directory when the
      // sandbox's uid cannot reach the home directory (defaultPackageCacheDir).
      packageCache: setting.string().refine(isAbsolute, "expected an absolute path").optional(),
      packageCacheMb: setting.int(1, 1024 * 1024).default(PACKAGE_CACHE_DEFAULTS.maxMb),
      packageInstallTimeoutMs: setting.int(1000, 3600_000).default(PACKAGE_CACHE_DEFAULTS.installTimeoutMs),
    })
    .refine((s) => s.forkServersMax === undefined || s.forkServersMax >= s.forkServers, {
      message: "SUBPROCESS_FORK_SERVERS_MAX must be at least SUBPROCESS_FORK_SERVERS (the pool's ceiling is above its floor)",
      path: ["forkServersMax"],
    }),
  create: (s) =>
    new SubprocessRuntime({
      pythonBin: s.pythonBin,
      nodeBin: s.nodeBin,
      sandbox: s.sandbox,
      forkServers: s.forkServers,
      bashBin: s.bashBin,
      packageCache: { dir: s.packageCache, maxBytes: s.packageCacheMb * 1024 * 1024, installTimeoutMs: s.packageInstallTimeoutMs },
      forkServersMax: s.forkServersMax,
      sandboxSettings: {
        bwrapBin: s.bwrapBin,
        pythonBin: s.sandboxPythonBin ?? defaultSandboxPython(s.pythonBin),
        nodeBin: s.sandboxNodeBin,
        allowNetwork: s.sandboxNetwork,
        diskMb: s.sandboxDiskMb,
        processes: s.sandboxProcesses,
      },
    }),
});
