import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { bashExitCode, bashInputVariables, bashPayload, bashResult, runnerFiles, type NormalizedRequest, type RuntimeResult } from "@coderouter/core";
import { runChild, type ChildSpec } from "./child.js";
import { interpreterEnv } from "./env.js";
import { withDataLimit, type Confinement } from "./pid-namespace.js";
import { SANDBOX_RUNNERS, type Bubblewrap, type SandboxWorkspace } from "./sandbox.js";

/** Where the sandboxed bash runner keeps the script and its inputs file: the sandbox's own /tmp. */
const SANDBOX_BASH_FILES = "/tmp/.coderouter";

/** Where a script runs: in a sandbox (its private /work, or a session's /workspace), or in a host directory. */
export interface ScriptPlace {
  bash: string;
  sandbox?: Bubblewrap;
  /** Sandboxed: a session's workspace, bound at /workspace and the working directory. */
  workspace?: SandboxWorkspace;
  /** Plain: the host directory the script runs in (HOME and TMPDIR too). */
  workdir: string;
  confine: Confinement;
  /** The runtime's live children, killed on close. */
  children: Set<number>;
}

/**
 * A bash script, by the bash runner: plain, with its two files in a folder of their own beside the
 * working directory; sandboxed, with its files in the sandbox's /tmp. fd 3 is the script's output
 * channel, read raw. One-shot executions and session calls alike.
 */
export async function runScript(request: NormalizedRequest, started: number, place: ScriptPlace): Promise<RuntimeResult> {
  const variables = { ...request.env, ...bashInputVariables(request.inputs, request.env) };
  const dataBytes = request.memoryMb ? request.memoryMb * 1024 * 1024 : undefined;
  const payload = bashPayload(request);
  let spec: ChildSpec;
  let files: string | undefined;
  let release: (() => void) | undefined;
  if (place.sandbox) {
    const runner = `${SANDBOX_RUNNERS}/${basename(runnerFiles.bash)}`;
    const network = Boolean(request.network && place.sandbox.settings.allowNetwork);
    const args = [runner, SANDBOX_BASH_FILES];
    // In a session, the session's places; one-shot, a scratch mount of its own.
    let command: ReturnType<Bubblewrap["command"]>;
    if (place.workspace) command = place.sandbox.command(place.bash, args, variables, network, dataBytes, { workspace: place.workspace });
    else ({ release, ...command } = await place.sandbox.oneShot(place.bash, args, variables, network, dataBytes));
    spec = { ...command, cwd: tmpdir(), env: {}, payload, rawChannel: true };
  } else {
    files = await mkdtemp(join(tmpdir(), `coderouter-${process.pid}-bash-`));
    const command = place.confine(withDataLimit(place.bash, [runnerFiles.bash, files], dataBytes));
    spec = {
      ...command,
      cwd: place.workdir,
      env: interpreterEnv(place.bash, { HOME: place.workdir, TMPDIR: place.workdir, ...variables }),
      payload,
      rawChannel: true,
    };
  }
  try {
    const outcome = await runChild(spec, request, place.children);
    return bashResult("subprocess", request, started, {
      ...(outcome.ending === "exited" ? { exitCode: bashExitCode(outcome.exitCode, outcome.signal) } : { limit: outcome.ending }),
      channel: outcome.channel ?? "",
      stdout: outcome.stdout,
      stderr: outcome.stderr,
    });
  } finally {
    release?.();
    if (files) await rm(files, { recursive: true, force: true });
  }
}
