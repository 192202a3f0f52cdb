import { constants } from "node:os";
import { ValidationError } from "./errors.js";
import type { OutputStream } from "./output-stream.js";
import { limitError, outputValueLimitError, runtimeResult, type LimitKind, type ResultFields } from "./result.js";
import { checkInputDepth, parseUntrusted } from "./untrusted.js";
import { MAX_INPUT_DEPTH, type ExecutionError, type JsonValue, type NormalizedRequest, type RuntimeId, type RuntimeResult } from "./schemas.js";

/**
 * What a bash script gets and gives back, the same on every runtime that runs one (README, "Bash"):
 * - each input whose key is a shell identifier is an environment variable: a string as it is,
 *   any other value as its JSON text (42, true, null, [1,2], {"a":1});
 * - the whole `inputs` object is a JSON file whose path is in $CODEROUTER_INPUTS_FILE (keys that
 *   are not identifiers, and values no environment can carry, are there only);
 * - `output` is the JSON value the script writes to file descriptor 3 (`echo '[1,2]' >&3`), or
 *   null when it writes nothing there;
 * - a non-zero exit is a failure of the code (ok: false, error "ExitStatus") with its exitCode.
 */
export const BASH_INPUTS_FILE_VARIABLE = "CODEROUTER_INPUTS_FILE";

/**
 * Names an input may not take as a variable: the ones read when the script or a program it starts
 * begins, to decide how it runs or what code it loads. An input is data, possibly from someone other
 * than the script's author, so a name that turns data into code or changes the runner is refused
 * rather than exported:
 * - bash's own (PATH, IFS, BASH_ENV, SHELLOPTS, PS0-PS4, TMOUT, FUNCNEST, RANDOM, ...);
 * - the dynamic loader's and the C library's: LD_*, and the variables glibc strips from set-uid
 *   programs because they choose what a program loads (GLIBC_TUNABLES, MALLOC_*, GCONV_PATH, LOCPATH, ...);
 * - the interpreters the script is likely to start: NODE_OPTIONS runs any module before node's
 *   script (`--import=data:...`), PYTHONWARNINGS imports any module (with BROWSER set, the
 *   classic antigravity chain runs a command), PERL5OPT is a `-M` that takes code;
 * - the runtime's own (CODEROUTER_*, HOME, TMPDIR).
 */
const RESERVED = new RegExp(
  `^(?:${[
    "BASH\\w*|ENV|SHELLOPTS|POSIXLY_CORRECT|PATH|IFS|CDPATH|GLOBIGNORE|GLOBSORT|EXECIGNORE|PS[0-4]|PROMPT_COMMAND",
    "TMOUT|FUNCNEST|RANDOM|SRANDOM|SECONDS|LINENO|OPTIND|OPTERR|HISTFILE|INPUTRC|SHLVL|SHELL|UID|EUID|PPID|HOSTNAME|PWD|OLDPWD",
    "LD_\\w+|GLIBC_TUNABLES|MALLOC_\\w+|GCONV_PATH|GETCONF_DIR|HOSTALIASES|LOCALDOMAIN|LOCPATH|NIS_PATH|NLSPATH|RESOLV_HOST_CONF|RES_OPTIONS|TZDIR",
    "LANG|LANGUAGE|LC_\\w+",
    "NODE_\\w+|PYTHON\\w*|PERL5\\w*|PERLLIB",
    "CODEROUTER_\\w*|HOME|TMPDIR",
  ].join("|")})$`,
);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The largest variable exported (name=value): Linux refuses to exec with any one environment string
 * over 128 KiB, and bubblewrap passes each as an argument, under the same limit. A larger value is
 * in the inputs file only.
 */
export const MAX_INPUT_VARIABLE_BYTES = 64 * 1024;
/** All exported inputs together: the environment and arguments of an exec share about 2 MiB. */
export const MAX_INPUT_VARIABLES_BYTES = 1024 * 1024;
/**
 * What each variable costs an exec beyond its text: its pointer, and in bubblewrap's arguments
 * `--setenv NAME VALUE` (three pointers, the flag and two terminators). Counted so that many tiny
 * inputs (150,000 empty ones once made spawn fail with E2BIG) meet the same limit as a few large ones.
 */
const VARIABLE_OVERHEAD_BYTES = 48;

/** An input's value as an environment variable's text. */
export function variableText(value: JsonValue): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * The environment variables a script's inputs become. Throws a ValidationError naming the input for
 * a reserved name, a name the request's `env` sets too, or inputs too large for an environment.
 */
export function bashInputVariables(inputs: Record<string, JsonValue>, env: Record<string, string> = {}): Record<string, string> {
  const variables: Record<string, string> = {};
  let total = 0;
  for (const [key, value] of Object.entries(inputs)) {
    if (!IDENTIFIER.test(key)) continue;
    if (RESERVED.test(key))
      refuse(key, `${key} is read by bash, the loader or a program the script starts: rename the input (it stays in $${BASH_INPUTS_FILE_VARIABLE})`);
    if (Object.hasOwn(env, key)) refuse(key, `env sets ${key} as well: an input and an env variable cannot share a name`);
    const text = variableText(value);
    const bytes = Buffer.byteLength(text) + key.length + 1;
    // An environment string ends at its first NUL: such a value could only arrive cut short.
    if (text.includes("\0") || bytes > MAX_INPUT_VARIABLE_BYTES) continue;
    total += bytes + VARIABLE_OVERHEAD_BYTES;
    variables[key] = text;
  }
  if (total > MAX_INPUT_VARIABLES_BYTES) {
    throw new ValidationError(
      `invalid request: inputs exported as environment variables take ${total} bytes, more than ${MAX_INPUT_VARIABLES_BYTES}: give large values keys that are not shell identifiers (e.g. "rows-data") to pass them in $${BASH_INPUTS_FILE_VARIABLE} only`,
      [{ path: "inputs", message: "too large for environment variables" }],
    );
  }
  return variables;
}

function refuse(key: string, why: string): never {
  throw new ValidationError(`invalid request: input ${JSON.stringify(key)} cannot be a bash variable: ${why}`, [{ path: `inputs.${key}`, message: why }]);
}

/** The script's output from what it wrote to fd 3: null for nothing, else exactly one JSON value. */
export function bashOutput(text: string, request: Pick<NormalizedRequest, "maxOutputBytes">): { output: JsonValue } | { error: ExecutionError } {
  if (!text.trim()) return { output: null };
  if (Buffer.byteLength(text) > request.maxOutputBytes) return { error: outputValueLimitError(request) };
  const parsed = parseUntrusted(text);
  if (!parsed.ok) {
    return {
      error: {
        kind: "runtime",
        name: "OutputError",
        message: `the script wrote ${parsed.why} to fd 3, which takes one JSON value (e.g. jq -n --arg name "$name" '{name: $name}' >&3)`,
      },
    };
  }
  try {
    checkInputDepth(parsed.value);
  } catch {
    return { error: { kind: "runtime", name: "OutputError", message: `the JSON the script wrote to fd 3 nests deeper than ${MAX_INPUT_DEPTH} levels` } };
  }
  return { output: parsed.value as JsonValue };
}

/** The error of a script that ended by itself with a non-zero status, or undefined for status 0. */
export function bashExitError(exitCode: number): ExecutionError | undefined {
  if (exitCode === 0) return undefined;
  // 128 + n is how bash itself reports a child ended by signal n.
  const signal = exitCode > 128 && exitCode < 128 + 65 ? ` (signal ${exitCode - 128})` : "";
  return { kind: "runtime", name: "ExitStatus", message: `the script exited with status ${exitCode}${signal}` };
}

/**
 * The payload the bash runner (runners/coderouter_bash.sh) reads on stdin: the byte length of the
 * inputs' JSON on a line, that JSON, then the script as it is. No escaping: bash reads a length and
 * copies bytes, so nothing in the script or the inputs is ever parsed by the runner.
 */
export function bashPayload(request: Pick<NormalizedRequest, "code" | "inputs">): string {
  const inputs = JSON.stringify(request.inputs);
  return `${Buffer.byteLength(inputs)}\n${inputs}${request.code}`;
}

/** A script's exit status as bash would report it: its code, or 128 + n when signal n ended it. */
export function bashExitCode(code: number | null, signal: string | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal as NodeJS.Signals] ?? 0) : 0);
}

/** How a script ended, as any runtime sees it. */
export interface BashEnding {
  /** Set when the script ended by itself; undefined when a limit (timeout, output, abort) ended it. */
  exitCode?: number;
  /** What it wrote to fd 3. */
  channel: string;
  stdout: OutputStream;
  stderr: OutputStream;
  /** The limit that ended it, if one did. */
  limit?: LimitKind;
}

/** What a script's ending means, the same from every runtime: exit status first, then the output on fd 3. */
export function bashOutcome(request: NormalizedRequest, ending: BashEnding): Pick<ResultFields, "exitCode" | "output" | "error"> {
  if (ending.limit || ending.exitCode === undefined) return { error: limitError(ending.limit ?? "killed", request) };
  const { exitCode } = ending;
  // bash's own allocator (xmalloc, xrealloc) and the commands it runs say so when the limit stops them.
  if (exitCode !== 0 && request.memoryMb && /\bx(?:m|re)alloc: cannot allocate|Cannot allocate memory|out of memory|MemoryError/.test(ending.stderr.text())) {
    return { exitCode, error: limitError("memory", request) };
  }
  const exited = bashExitError(exitCode);
  if (exited) return { exitCode, error: exited };
  return { exitCode, ...bashOutput(ending.channel, request) };
}

/** A script's result for a runtime that has nothing else to add to it. */
export function bashResult(runtime: RuntimeId, request: NormalizedRequest, started: number, ending: BashEnding): RuntimeResult {
  return runtimeResult(runtime, request, started, { stdout: ending.stdout, stderr: ending.stderr, ...bashOutcome(request, ending) });
}
