import { afterAll, beforeAll, expect, it } from "vitest";
import { runConformance } from "@coderouter/conformance";
import { LocalE2B, runtimeFor } from "./local.js";
import { CommandExitError } from "@e2b/code-interpreter";
import { readSettings } from "@coderouter/core";
import { E2B_ENV, E2BSettingsSchema, type E2BRuntime } from "../src/index.js";
import { sandboxClass } from "../src/sdk.js";

const server = new LocalE2B({ contextDelayMs: 200 });
const runtimes: E2BRuntime[] = [];
beforeAll(() => server.start());
afterAll(() => server.close());

const create = (template?: string) => () => {
  const runtime = runtimeFor(server, { poolSize: 1, ...(template ? { template } : {}) });
  runtimes.push(runtime);
  return runtime;
};

// Scripts run through envd's process API (commands.run) in the code interpreter's template and in
// the seeds' E2B_TEMPLATE=base alike; the stand-in's processes are local, so `ps` sees what they leave.
runConformance({ name: "e2b (local E2B server)", create: create(), languages: [], processes: true, bash: true });
runConformance({ name: "e2b (E2B_TEMPLATE=base, envd commands)", create: create("base"), languages: [], processes: true, bash: true });

// What the SDK's commands.run depends on, as envd (e2b-dev/infra packages/envd, process handler)
// does it: the end event's exit code, and cmd.Wait()'s error worded by Go for any other end.
it("the stand-in's envd ends a command as envd does: exit code, Go's error text, stdin closed, cwd and env", async () => {
  const Sandbox = await sandboxClass(readSettings(E2BSettingsSchema, E2B_ENV, server.env(), {}));
  const sandbox = await Sandbox.create("base");
  try {
    const failed = await sandbox.commands.run("echo out; echo err >&2; exit 3").catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(CommandExitError);
    expect(failed).toMatchObject({ exitCode: 3, error: "exit status 3", stdout: "out\n", stderr: "err\n" });
    const killed = await sandbox.commands.run("kill -KILL $$").catch((error: unknown) => error);
    expect(killed).toMatchObject({ exitCode: -1, error: "signal: killed" });
    const ok = await sandbox.commands.run('cat; printf "%s|%s" "$PWD" "$GREETING"', { cwd: "/tmp", envs: { GREETING: "hi" } });
    expect(ok).toMatchObject({ exitCode: 0, stdout: "/tmp|hi" });
    expect(ok.error).toBeUndefined();
  } finally {
    await sandbox.kill();
  }
});

it("killed every sandbox it created", async () => {
  for (const runtime of runtimes) await runtime.close();
  const created = runtimes.reduce((n, r) => n + r.counts().created, 0);
  expect(created).toBeGreaterThan(0);
  expect(runtimes.reduce((n, r) => n + r.counts().killed, 0)).toBe(created);
  expect(server.live()).toEqual([]);
});
