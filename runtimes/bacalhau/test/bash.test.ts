import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, expect, it } from "vitest";
import { normalizedRequest as request, runConformance } from "@coderouter/conformance";
import { LocalBacalhau, runtimeFor } from "./local.js";

const server = new LocalBacalhau({ apiKey: "local-bacalhau-token" });
beforeAll(() => server.start());
afterAll(() => server.close());

// A job whose entrypoint is bash: the payload unpacked by the shell, the script run by the shared runner.
runConformance({ name: "bacalhau (local orchestrator)", create: () => runtimeFor(server), languages: [], processes: true, bash: true });

type Task = { Engine: { Params: { Image: string; Entrypoint: string[] } }; Env: Record<string, string>; InputSources?: unknown[] };
const lastTask = () => ([...server.jobs.values()].at(-1)!.spec as unknown as { Tasks: Task[] }).Tasks[0]!;

it("sends a bash job to the bash image with a shell entrypoint; the script and its inputs travel as data, inline or by URL", async () => {
  const code = `printf '"%s %s"' "$greeting" "$who" >&3; echo ran`;
  const inputs = { who: "it's $(whoami)" };
  const inline = runtimeFor(server);
  try {
    const result = await inline.execute(request({ language: "bash", code, inputs, env: { greeting: "hello" } }));
    expect(result).toMatchObject({ ok: true, exitCode: 0, stdout: "ran\n", output: `hello ${inputs.who}` });
    const task = lastTask();
    expect(task.Engine.Params.Image).toBe("debian:bookworm-slim");
    expect(task.Engine.Params.Entrypoint[0]).toBe("bash");
    expect(JSON.stringify(task)).not.toContain("whoami");
  } finally {
    await inline.close();
  }
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const served = runtimeFor(server, { payloadUrl: `http://127.0.0.1:${port}` });
  try {
    const result = await served.execute(request({ language: "bash", code: 'printf "\\"%s\\"" "$who" >&3', inputs }));
    expect(result).toMatchObject({ ok: true, output: inputs.who });
    expect(lastTask().InputSources).toHaveLength(1);
  } finally {
    await served.close();
  }
});

it("left no job running on the cluster", () => {
  expect(server.active()).toEqual([]);
});
