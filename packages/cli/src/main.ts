import { parseArgs } from "node:util";
import { ConfigError, NoRuntimeAvailableError, RuntimeUnavailableError, ValidationError, createRouter, type Router } from "coderouter";
import type { Io } from "./io.js";
import { formatDecision, formatDoctor, formatResult } from "./format.js";
import { mcp } from "./mcp.js";
import { formatProbe, probe } from "./probe.js";
import { serve } from "./serve.js";
import { readRequest, type RequestFlags } from "./request.js";

/** Exit codes of the CLI contract (DESIGN.md). */
export const EXIT = { ok: 0, codeFailed: 1, usage: 2, noRuntime: 3 } as const;

const USAGE = `usage:
  coderouter run [FILE|-] [--language L] [--runtime auto|ID] [--inputs JSON] [--timeout MS]
                          [--isolation LEVEL] [--expected-duration MS] [--package P]... [--json]
  coderouter explain [FILE|-] [same flags]
  coderouter doctor [--json] [--probe ID]  # --probe runs a tiny job on runtime ID, end to end
  coderouter serve [--port N] [--host H]     # the HTTP API (CODEROUTER_* variables in .env.example), MCP at /mcp
  coderouter mcp                             # an MCP server over stdin/stdout, for agents

FILE is read from disk, - (or no FILE) from stdin. The language comes from the extension
(.py, .js, .mjs, .cjs, .ts, .mts; .sh, .bash for a bash script; .wasm for a WASI module) unless --language is given.
Exit codes: 0 ran and ok, 1 the code failed, 2 bad usage or invalid request, 3 no runtime available.`;

const REQUEST_OPTIONS = {
  language: { type: "string", short: "l" },
  runtime: { type: "string", short: "r" },
  inputs: { type: "string", short: "i" },
  timeout: { type: "string", short: "t" },
  isolation: { type: "string" },
  "expected-duration": { type: "string" },
  package: { type: "string", multiple: true },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export async function main(argv: string[], io: Io = process): Promise<number> {
  const [command, ...rest] = argv;
  const print = (text: string) => io.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  const fail = (text: string, code: number) => {
    io.stderr.write(`coderouter: ${text}\n`);
    return code;
  };
  if (!command || command === "--help" || command === "-h" || command === "help") {
    print(USAGE);
    return command ? EXIT.ok : EXIT.usage;
  }
  if (!["run", "explain", "doctor", "serve", "mcp"].includes(command)) return fail(`unknown command "${command}"\n${USAGE}`, EXIT.usage);
  if (command === "serve") return serve(rest, io);
  if (command === "mcp") return mcp(rest, io);

  let flags: RequestFlags & { json?: boolean; help?: boolean; probe?: string };
  let positionals: string[];
  try {
    const parsed = parseArgs({
      args: rest,
      options: command === "doctor" ? { json: REQUEST_OPTIONS.json, probe: { type: "string" } } : REQUEST_OPTIONS,
      allowPositionals: command !== "doctor",
      strict: true,
    });
    flags = parsed.values as typeof flags;
    positionals = parsed.positionals;
  } catch (error) {
    return fail(`${(error as Error).message}\n${USAGE}`, EXIT.usage);
  }
  if (flags.help) {
    print(USAGE);
    return EXIT.ok;
  }
  if (positionals.length > 1) return fail(`expected one FILE, got ${positionals.length}\n${USAGE}`, EXIT.usage);

  let router: Router | undefined;
  // A terminal's Ctrl-C must not leave a child process or a sandbox behind.
  const stop = () => {
    void router?.close().finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    router = createRouter();
    if (command === "doctor") {
      const statuses = await router.runtimes();
      const report = flags.probe ? await probe(router, flags.probe) : undefined;
      if (flags.json) print(JSON.stringify(report ? { runtimes: statuses, probe: report } : statuses, null, 2));
      else print(report ? `${formatDoctor(statuses)}\n${formatProbe(report)}` : formatDoctor(statuses));
      if (report) return report.ok ? EXIT.ok : EXIT.codeFailed;
      return statuses.some((s) => s.available) ? EXIT.ok : EXIT.noRuntime;
    }
    const request = await readRequest(positionals[0], flags, io.stdin);
    if (command === "explain") {
      const decision = await router.explain(request);
      print(flags.json ? JSON.stringify(decision, null, 2) : formatDecision(decision));
      return decision.selected ? EXIT.ok : EXIT.noRuntime;
    }
    const result = await router.execute(
      flags.json ? request : { ...request, onStdout: (text) => io.stdout.write(text), onStderr: (text) => io.stderr.write(text) },
    );
    if (flags.json) print(JSON.stringify(result));
    else {
      const shown = formatResult(result);
      io.stdout.write(shown.stdout);
      io.stderr.write(shown.stderr);
    }
    return result.ok ? EXIT.ok : EXIT.codeFailed;
  } catch (error) {
    if (error instanceof ValidationError || error instanceof ConfigError) return fail(error.message, EXIT.usage);
    if (error instanceof NoRuntimeAvailableError || error instanceof RuntimeUnavailableError) {
      if (flags.json && error.decision) print(JSON.stringify({ error: error.message, routing: error.decision }));
      return fail(error.message, EXIT.noRuntime);
    }
    throw error;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await router?.close();
  }
}
