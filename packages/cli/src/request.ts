import { readFile } from "node:fs/promises";
import { extname } from "node:path";
import { ValidationError, type ExecutionRequestInput, type Language } from "coderouter";

export interface RequestFlags {
  language?: string;
  runtime?: string;
  inputs?: string;
  timeout?: string;
  isolation?: string;
  "expected-duration"?: string;
  package?: string[];
}

const EXTENSIONS: Record<string, Language> = {
  ".py": "python",
  ".js": "javascript",
  ".mjs": "javascript",
  ".cjs": "javascript",
  ".ts": "typescript",
  ".mts": "typescript",
  ".sh": "bash",
  ".bash": "bash",
  ".wasm": "wasm",
};

/** Builds the request from the CLI's file and flags; the router validates the rest. */
export async function readRequest(file: string | undefined, flags: RequestFlags, stdin: NodeJS.ReadableStream): Promise<ExecutionRequestInput> {
  const fromStdin = file === undefined || file === "-";
  const language = flags.language ?? (fromStdin ? undefined : EXTENSIONS[extname(file).toLowerCase()]);
  let code: string;
  try {
    const bytes = fromStdin ? await readAll(stdin) : await readFile(file);
    // A WebAssembly module travels as its bytes in base64; source code as text.
    code = language === "wasm" ? bytes.toString("base64") : bytes.toString("utf8");
  } catch (error) {
    throw new ValidationError(`cannot read ${file}: ${(error as Error).message}`);
  }
  if (!language) {
    throw new ValidationError(
      fromStdin
        ? "--language is required when the code comes from stdin"
        : `cannot tell the language of ${file} from its extension: pass --language python|javascript|typescript|bash|wasm`,
    );
  }
  let inputs: unknown;
  if (flags.inputs !== undefined) {
    try {
      inputs = JSON.parse(flags.inputs);
    } catch (error) {
      throw new ValidationError(`--inputs is not valid JSON: ${(error as Error).message}`);
    }
    if (typeof inputs !== "object" || inputs === null || Array.isArray(inputs)) {
      throw new ValidationError('--inputs must be a JSON object, e.g. \'{"name": "Ada"}\'');
    }
  }
  const timeoutMs = milliseconds("--timeout", flags.timeout);
  const expectedDurationMs = milliseconds("--expected-duration", flags["expected-duration"]);
  return {
    language: language as Language,
    code,
    ...(inputs ? { inputs: inputs as ExecutionRequestInput["inputs"] } : {}),
    ...(flags.runtime ? { runtime: flags.runtime } : {}),
    ...(timeoutMs ? { timeoutMs } : {}),
    ...(flags.isolation ? { isolation: flags.isolation as ExecutionRequestInput["isolation"] } : {}),
    ...(expectedDurationMs ? { expectedDurationMs } : {}),
    ...(flags.package?.length ? { packages: flags.package } : {}),
  };
}

function milliseconds(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms <= 0) throw new ValidationError(`${flag} must be a positive whole number of milliseconds, got "${value}"`);
  return ms;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks);
}
