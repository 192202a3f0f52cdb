import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { LocalE2B } from "./local.js";

const server = new LocalE2B();
beforeAll(() => server.start());
afterAll(() => server.close());

/** A process that embeds coderouter, keeps E2B sandboxes warm, and is then sent a signal. */
const HOST = `
import { createRouter } from "coderouter";
const router = createRouter({ dotenv: false });
await router.execute({ language: "python", code: "1", runtime: "e2b" });
process.stdout.write("ready\\n");
setInterval(() => {}, 1000);
`;

it.each(["SIGTERM", "SIGINT"] as const)(
  "kills every sandbox when the host process gets %s",
  async (signal) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", HOST], {
      cwd: fileURLToPath(new URL("../../..", import.meta.url)),
      env: { ...process.env, ...server.env(), E2B_POOL_SIZE: "2" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (chunk: Buffer) => chunk.toString().includes("ready") && resolve());
      child.on("exit", (code) => reject(new Error(`the host exited early (${code})`)));
    });
    for (let i = 0; i < 100 && server.live().length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(server.live().length).toBeGreaterThan(0);
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, how) => resolve(how)));
    child.kill(signal);
    // The process still ends by the signal (the default action is raised again once sandboxes are gone).
    expect(await exited).toBe(signal);
    expect(server.live()).toEqual([]);
  },
  30_000,
);

/** A script that runs one code node on E2B and returns, never closing its router. */
const SCRIPT = `
import { createRouter } from "coderouter";
const router = createRouter({ dotenv: false });
const result = await router.execute({ language: "python", code: "6 * 7", runtime: "e2b" });
process.stdout.write(JSON.stringify(result.output) + "\\n");
`;

it("kills every sandbox when the host process ends on its own, without router.close()", async () => {
  const child = spawn(process.execPath, ["--input-type=module", "-e", SCRIPT], {
    cwd: fileURLToPath(new URL("../../..", import.meta.url)),
    env: { ...process.env, ...server.env(), E2B_POOL_SIZE: "2", DEBUG: "e2b:*" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  expect(code).toBe(0);
  expect(stdout).toBe("42\n");
  expect(server.stats.created).toBeGreaterThan(0);
  expect(server.live()).toEqual([]);
  // DEBUG=e2b:* showed what the runtime did, as the seeds document.
  for (const event of ["e2b:create", "e2b:pool", "e2b:execute", "e2b:kill"]) expect(stderr).toContain(event);
}, 30_000);
