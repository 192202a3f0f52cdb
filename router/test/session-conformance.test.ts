import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runSessionConformance } from "@coderouter/conformance";
import { LocalE2B } from "../../test/e2b-server/server.js";
import { createRouter, type Isolation, type Router } from "../src/index.js";

// The session section of the conformance suite, on every runtime that keeps sessions, each
// reached through a router as users reach it (the router owns the idle timer).

const routers: Router[] = [];
afterAll(async () => {
  await Promise.all(routers.map((r) => r.close()));
});
function router(env: Record<string, string> = {}): Router {
  const r = createRouter({ env });
  routers.push(r);
  return r;
}

/** The subprocess runtime's session workers (children of this process) and workspaces still here. */
function subprocessHeld(): string[] {
  const workers = execFileSync("ps", ["-eo", "ppid,args"], { encoding: "utf8" })
    .split("\n")
    .filter((line) => Number(line.trim().split(/\s+/)[0]) === process.pid && /coderouter_session|node_session/.test(line));
  const workspaces = readdirSync(tmpdir()).filter((name) => name.startsWith(`coderouter-session-${process.pid}-`));
  return [...workers, ...workspaces];
}

for (const [isolation, workspace] of [
  ["process", "host"],
  ["sandbox", "/workspace"],
] as const) {
  const local = router();
  runSessionConformance({
    name: `subprocess (isolation ${isolation})`,
    open: (options) => local.openSession({ ...options, runtime: "subprocess", isolation: isolation as Isolation }),
    languages: ["python", "javascript", "typescript", "bash"],
    workspace,
    processes: true,
    held: subprocessHeld,
  });
}

const isolate = router();
runSessionConformance({
  name: "isolate (no filesystem)",
  open: (options) => isolate.openSession({ ...options, runtime: "isolate" }),
  languages: ["javascript", "typescript"],
  workspace: "none",
});

const e2b = new LocalE2B({ contextDelayMs: 100 });
beforeAll(() => e2b.start());
afterAll(() => e2b.close());
let remote: Router | undefined;
const e2bRouter = () => (remote ??= router(e2b.env()));
runSessionConformance({
  name: "e2b (local E2B server)",
  open: (options) => e2bRouter().openSession({ ...options, runtime: "e2b" }),
  languages: ["python", "javascript", "typescript", "bash"],
  workspace: "/workspace",
  processes: true,
  held: () => e2b.live(),
});

it("killed every session sandbox it created on E2B", async () => {
  await remote?.close();
  expect(e2b.stats.created).toBeGreaterThan(0);
  expect(e2b.stats.killed).toBe(e2b.stats.created);
  expect(e2b.live()).toEqual([]);
});
