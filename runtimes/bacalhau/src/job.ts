import { randomBytes } from "node:crypto";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import {
  asyncFunctionSource,
  bashInputVariables,
  bashPayload,
  javascriptRunnerSource,
  pythonRunnerSource,
  runnerFiles,
  type NormalizedRequest,
  type PreparedJavaScript,
} from "@coderouter/core";
import type { BacalhauSettings } from "./settings.js";

/**
 * The batch job that runs one request: a docker task whose entrypoint is the shared wrapper. The
 * code, inputs and the request's env travel as one gzipped JSON payload: in base64 in the task's
 * environment, or, when coderouter serves payloads (BACALHAU_PAYLOAD_URL), as a file the node
 * downloads before the container starts (an urlDownload input source). Never in a shell string
 * or the entrypoint's source, and never as task env of their own, which Bacalhau validates and
 * pre-1.7 nodes ignored. The wrapper prints a start marker
 * before anything else, so the request's clock can start when the code does (not when the image
 * pull does), and prints the result after the code's own output behind a random fence.
 */

/** Linux limits one environment string to 128 KiB: a large payload is split across variables. */
const CHUNK = 100_000;
const PAYLOAD_PREFIX = "CODEROUTER_PAYLOAD_";
/** Where an urlDownload input lands in the container: Target + the URL's base name. */
const PAYLOAD_TARGET = "/tmp/coderouter";
const PAYLOAD_FILE = `${PAYLOAD_TARGET}/payload.gz`;
/** Between the interpreter's own memory limit and the container's, so MemoryError comes first. */
const HEADROOM_RATIO = 1.25;
const HEADROOM_MIB = 64;

export interface JobSpec {
  job: Record<string, unknown>;
  /** Marks where the code's stdout ends and the result begins. */
  fence: string;
  /** The first thing the wrapper prints: the code starts now. */
  startMarker: string;
  /** Size of the payload as it travels in the job (0 when it is downloaded by URL). */
  payloadBytes: number;
}

/**
 * The request's code, inputs and env as the wrapper reads them: gzipped JSON; for a bash script,
 * gzipped text a shell can take apart without a JSON parser: the byte length of the variables on a
 * line, the variables as NUL-ended name=value records (the request's env, then the inputs), then
 * the bash runner's own payload (bashPayload).
 */
export function packPayload(request: NormalizedRequest, prepared?: Extract<PreparedJavaScript, { ok: true }>): Buffer {
  const env = request.env ?? {};
  if (request.language === "bash") {
    const variables = { ...env, ...bashInputVariables(request.inputs, env) };
    const records = Object.entries(variables)
      .map(([name, value]) => `${name}=${value}\0`)
      .join("");
    return gzipSync(`${Buffer.byteLength(records)}\n${records}${bashPayload(request)}`);
  }
  const payload =
    request.language === "python"
      ? { code: request.code, inputs: request.inputs, env, memoryMb: request.memoryMb, timeoutMs: request.timeoutMs }
      : { source: asyncFunctionSource(prepared!.body).source, filename: prepared!.filename, inputs: request.inputs, env };
  return gzipSync(JSON.stringify(payload));
}

/** The container's memory (binary units) for a request whose interpreter is held to `memoryMb` MiB. */
export function containerMemory(memoryMb: number): string {
  return `${Math.ceil(memoryMb * HEADROOM_RATIO) + HEADROOM_MIB}mib`;
}

/** The job for `request`, whose packed payload travels inline or is downloaded from `payloadUrl`. */
export function buildJob(request: NormalizedRequest, settings: BacalhauSettings, payload: Buffer | { url: string }): JobSpec {
  const fence = `\u0001coderouter-result-${randomBytes(12).toString("hex")}\u0001`;
  const startMarker = `${fence}start\n`;
  const python = request.language === "python";
  const bash = request.language === "bash";
  const taskEnv: Record<string, string> = { CODEROUTER_FENCE: fence };
  let encoded = "";
  if (Buffer.isBuffer(payload)) {
    encoded = payload.toString("base64");
    for (let i = 0; i * CHUNK < encoded.length || i === 0; i++) taskEnv[`${PAYLOAD_PREFIX}${i}`] = encoded.slice(i * CHUNK, (i + 1) * CHUNK);
  } else {
    taskEnv.CODEROUTER_PACKED_FILE = PAYLOAD_FILE;
  }

  const entrypoint = bash
    ? ["bash", "-c", bashEntrypoint(), "coderouter", bashRunnerSource()]
    : python
      ? ["python3", "-I", "-u", "-c", pythonEntrypoint()]
      : ["node", ...(request.memoryMb ? [`--max-old-space-size=${request.memoryMb}`] : []), "-e", javascriptEntrypoint()];
  const memory = request.memoryMb ? containerMemory(request.memoryMb) : settings.memory;
  const job = {
    Name: `coderouter-${randomBytes(6).toString("hex")}`,
    Namespace: settings.namespace,
    Type: "batch",
    Count: 1,
    Labels: { "created-by": "coderouter" },
    Tasks: [
      {
        Name: "main",
        Engine: { Type: "docker", Params: { Image: bash ? settings.bashImage : python ? settings.pythonImage : settings.nodeImage, Entrypoint: entrypoint } },
        Env: taskEnv,
        ...(Buffer.isBuffer(payload) ? {} : { InputSources: [{ Source: { Type: "urlDownload", Params: { URL: payload.url } }, Target: PAYLOAD_TARGET }] }),
        Resources: { CPU: settings.cpu, ...(memory ? { Memory: memory } : {}) },
        // Bridge: a network namespace of the container's own. "Full" is an alias of "Host",
        // which would share the node's network (and its view of the orchestrator).
        Network: { Type: request.network ? "Bridge" : "None" },
        // The cluster's timer includes scheduling and the image pull; coderouter's own timer
        // starts with the code and stops the job at the request's timeout.
        Timeouts: { ExecutionTimeout: Math.ceil((request.timeoutMs + settings.startTimeoutMs) / 1000) + 1 },
      },
    ],
  };
  return { job, fence, startMarker, payloadBytes: encoded.length };
}

let pythonBoot: string | undefined;
let bashRunner: string | undefined;

/** The shared bash runner's source, passed to the entrypoint as its first argument. */
function bashRunnerSource(): string {
  bashRunner ??= readFileSync(runnerFiles.bash, "utf8");
  return bashRunner;
}

/**
 * The entrypoint of a bash job, run by bash with the runner's source as $1: it unpacks the payload
 * into a folder of its own, exports the variables, runs the script by the runner with fd 3 to a
 * file, and after the fence reports the script's exit status on a line, then what it wrote to fd 3.
 * The container's end ends whatever the script left running.
 */
function bashEntrypoint(): string {
  return `fence=$CODEROUTER_FENCE
unset CODEROUTER_FENCE
printf '%sstart\n' "$fence"
dir=$(mktemp -d) || exit 125
if [ -n "\${CODEROUTER_PACKED_FILE-}" ]; then
  cp "$CODEROUTER_PACKED_FILE" "$dir/packed.gz" || exit 125
  unset CODEROUTER_PACKED_FILE
else
  for ((i = 0; ; i++)); do
    name=${PAYLOAD_PREFIX}$i
    [ -n "\${!name+set}" ] || break
    printf '%s' "\${!name}"
    unset "$name"
  done | base64 -d >"$dir/packed.gz" || exit 125
fi
gzip -dc "$dir/packed.gz" >"$dir/packed" || exit 125
{
  IFS= read -r size
  head -c "$size" >"$dir/variables"
  cat >"$dir/payload"
} <"$dir/packed"
while IFS= read -r -d '' variable; do export "$variable"; done <"$dir/variables"
mkdir "$dir/work" && cd "$dir/work" || exit 125
bash -c "$1" coderouter-bash "$dir/files" <"$dir/payload" 3>"$dir/output"
status=$?
printf '\n%s%s\n' "$fence" "$status"
cat "$dir/output"
exit 0
`;
}
let javascriptBoot: string | undefined;

function pythonEntrypoint(): string {
  pythonBoot ??= `import base64, gzip, json, os, sys
fence = os.environ.pop("CODEROUTER_FENCE")
sys.stdout.write(fence + "start\\n")
sys.stdout.flush()
path = os.environ.pop("CODEROUTER_PACKED_FILE", None)
if path:
    with open(path, "rb") as file:
        packed = file.read()
else:
    keys = sorted((k for k in os.environ if k.startswith("${PAYLOAD_PREFIX}")), key=lambda k: int(k[${PAYLOAD_PREFIX.length}:]))
    packed = base64.b64decode("".join(os.environ.pop(k) for k in keys))
payload = json.loads(gzip.decompress(packed))
os.environ.update(payload.pop("env"))
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
require("fs").writeSync(1, fence + "start\\n");
const file = process.env.CODEROUTER_PACKED_FILE;
delete process.env.CODEROUTER_PACKED_FILE;
const keys = Object.keys(process.env)
  .filter((k) => k.startsWith("${PAYLOAD_PREFIX}"))
  .sort((a, b) => Number(a.slice(${PAYLOAD_PREFIX.length})) - Number(b.slice(${PAYLOAD_PREFIX.length})));
const gzipped = file ? require("fs").readFileSync(file) : Buffer.from(keys.map((k) => process.env[k]).join(""), "base64");
const packed = JSON.parse(require("zlib").gunzipSync(gzipped));
for (const k of keys) delete process.env[k];
Object.assign(process.env, packed.env);
delete packed.env;
const payload = Buffer.from(JSON.stringify(packed)).toString("base64");
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
