import { randomBytes } from "node:crypto";
import {
  asyncFunctionSource,
  javascriptRunnerSource,
  pythonRunnerSource,
  type NormalizedRequest,
  type PreparedJavaScript,
} from "@coderouter/core";
import type { BacalhauSettings } from "./settings.js";

/**
 * The batch job that runs one request: a docker task whose entrypoint is the shared wrapper, with
 * the code and inputs as base64 JSON in the task's environment (never in a shell string or the
 * entrypoint's source), and the result printed after the code's own output behind a random fence
 * drawn for this job.
 */

/** Linux limits one environment string to 128 KiB: a large payload is split across variables. */
const CHUNK = 100_000;
const PAYLOAD_PREFIX = "CODEROUTER_PAYLOAD_";

export interface JobSpec {
  job: Record<string, unknown>;
  /** Marks where the code's stdout ends and the result begins. */
  fence: string;
}

export function buildJob(
  request: NormalizedRequest,
  settings: BacalhauSettings,
  prepared?: Extract<PreparedJavaScript, { ok: true }>,
): JobSpec {
  const fence = `\u0001coderouter-result-${randomBytes(12).toString("hex")}\u0001`;
  const python = request.language === "python";
  const payload = python
    ? { code: request.code, inputs: request.inputs, memoryMb: request.memoryMb, timeoutMs: request.timeoutMs }
    : { source: asyncFunctionSource(prepared!.body).source, filename: prepared!.filename, inputs: request.inputs };
  const encoded = Buffer.from(JSON.stringify(payload)).toString("base64");
  const env: Record<string, string> = { ...request.env, CODEROUTER_FENCE: fence };
  for (let i = 0; i * CHUNK < encoded.length || i === 0; i++) env[`${PAYLOAD_PREFIX}${i}`] = encoded.slice(i * CHUNK, (i + 1) * CHUNK);

  const entrypoint = python
    ? ["python3", "-I", "-u", "-c", pythonEntrypoint()]
    : ["node", ...(request.memoryMb ? [`--max-old-space-size=${request.memoryMb}`] : []), "-e", javascriptEntrypoint()];
  const memory = settings.memory ?? (request.memoryMb ? `${request.memoryMb}mb` : undefined);
  const job = {
    Name: `coderouter-${randomBytes(6).toString("hex")}`,
    Namespace: settings.namespace,
    Type: "batch",
    Count: 1,
    Labels: { "created-by": "coderouter" },
    Tasks: [
      {
        Name: "main",
        Engine: { Type: "docker", Params: { Image: python ? settings.pythonImage : settings.nodeImage, Entrypoint: entrypoint } },
        Env: env,
        Resources: { CPU: settings.cpu, ...(memory ? { Memory: memory } : {}) },
        Network: { Type: request.network ? "Full" : "None" },
        // The cluster ends the run at the request's timeout even if coderouter is gone.
        Timeouts: { ExecutionTimeout: Math.ceil(request.timeoutMs / 1000) + 1 },
      },
    ],
  };
  return { job, fence };
}

let pythonBoot: string | undefined;
let javascriptBoot: string | undefined;

function pythonEntrypoint(): string {
  pythonBoot ??= `import base64, json, os, sys
fence = os.environ.pop("CODEROUTER_FENCE")
keys = sorted((k for k in os.environ if k.startswith("${PAYLOAD_PREFIX}")), key=lambda k: int(k[${PAYLOAD_PREFIX.length}:]))
payload = json.loads(base64.b64decode("".join(os.environ.pop(k) for k in keys)))
${pythonRunnerSource()}
runner.apply_limits(payload)
result = runner.run(payload["code"], payload["inputs"])
runner.flush()
try:
    text = json.dumps(result, allow_nan=False)
except (TypeError, ValueError) as exc:
    text = json.dumps(runner.error_result("runtime", exc, ""))
sys.stdout.write("\\n" + fence + text + "\\n")
sys.stdout.flush()
os._exit(0)
`;
  return pythonBoot;
}

function javascriptEntrypoint(): string {
  javascriptBoot ??= `"use strict";
const fence = process.env.CODEROUTER_FENCE;
delete process.env.CODEROUTER_FENCE;
const keys = Object.keys(process.env)
  .filter((k) => k.startsWith("${PAYLOAD_PREFIX}"))
  .sort((a, b) => Number(a.slice(${PAYLOAD_PREFIX.length})) - Number(b.slice(${PAYLOAD_PREFIX.length})));
const payload = keys.map((k) => process.env[k]).join("");
for (const k of keys) delete process.env[k];
const run = ${javascriptRunnerSource()};
run(payload).then((result) => {
  let text;
  try {
    text = JSON.stringify(result);
  } catch (error) {
    text = JSON.stringify({ error: { kind: "runtime", name: error.name, message: error.message, traceback: "" } });
  }
  process.stdout.write("\\n" + fence + text + "\\n", () => process.exit(0));
});
`;
  return javascriptBoot;
}
