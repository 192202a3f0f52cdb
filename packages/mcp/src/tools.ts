import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { IsolationSchema, JsonValueSchema, LanguageSchema, type JsonValue } from "coderouter";
import { executionAnswer, ExecuteResultShape, failureAnswer, ToolResultShape, valueAnswer } from "./results.js";
import type { SessionKey, Workspace } from "./workspace.js";

/** Picks the connection's session: each language (and runtime/isolation asked for) has its own. */
const sessionShape = {
  language: LanguageSchema.default("python").describe(
    "python, javascript, typescript or bash; each language has its own session, except bash: each bash call is a fresh script in an empty directory",
  ),
  runtime: z.string().optional().describe("auto (default) or a runtime id: isolate, subprocess, wasm, e2b, bacalhau"),
  isolation: IsolationSchema.optional().describe("the least isolation accepted: none, process, sandbox or vm"),
};

const fileSessionShape = {
  ...sessionShape,
  language: sessionShape.language.describe("whose session's working directory: python (default), javascript or typescript"),
};

/** Seconds, as the seed's agents pass them; at most a day. */
const timeoutSeconds = z
  .number()
  .positive()
  .max(24 * 3600)
  .optional()
  .describe("wall-clock limit in seconds");

const key = (args: { language: SessionKey["language"]; runtime?: string | undefined; isolation?: SessionKey["isolation"] }): SessionKey => ({
  language: args.language,
  runtime: args.runtime as SessionKey["runtime"],
  isolation: args.isolation,
});

/** Runs a tool body; whatever it throws becomes a `success: false` answer naming the error. */
async function guarded(body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    return failureAnswer(error);
  }
}

/** Admits one piece of work (the embedding server's concurrency limit): a release function, or undefined when full. */
export type Admit = () => Promise<(() => void) | undefined>;

/** Runs `body` once admitted; refused at once with `success: false` when the server is full. */
async function admitted(admit: Admit | undefined, body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  const release = admit ? await admit() : () => {};
  if (!release) return failureAnswer(new BusyError());
  try {
    return await body();
  } finally {
    release();
  }
}

class BusyError extends Error {
  readonly kind = "busy";
  constructor() {
    super("too many executions are running or queued on this server (CODEROUTER_CONCURRENCY, CODEROUTER_QUEUE); retry shortly");
    this.name = "BusyError";
  }
}

/** The agent tool surface of seed 003 (execute_code, install_package, get_environment) and the workspace's files. */
export function registerTools(server: McpServer, workspace: Workspace, admit?: Admit): void {
  server.registerTool(
    "execute_code",
    {
      title: "Execute code",
      description:
        "Runs Python, JavaScript or TypeScript in this connection's session for the language: variables, imports and files persist between calls. The value of the last expression is `output`. Runs a bash script once, in a fresh directory: inputs are its environment variables and $CODEROUTER_INPUTS_FILE, `output` is the JSON it writes to fd 3, `exitCode` its exit status.",
      inputSchema: {
        code: z.string().describe("the source to run"),
        ...sessionShape,
        timeout: timeoutSeconds,
        inputs: z.record(z.string(), JsonValueSchema).optional().describe("values that become global variables of the code"),
      },
      outputSchema: ExecuteResultShape,
    },
    (args, extra) =>
      admitted(admit, () =>
        guarded(async () => {
          const options = {
            ...(args.inputs ? { inputs: args.inputs } : {}),
            ...(args.timeout ? { timeoutMs: Math.ceil(args.timeout * 1000) } : {}),
            signal: extra.signal,
          };
          if (args.language === "bash") return executionAnswer(await workspace.execute(key(args), args.code, options));
          const session = await workspace.session(key(args));
          return executionAnswer(await session.execute(args.code, options), session.id);
        }),
      ),
  );

  server.registerTool(
    "install_package",
    {
      title: "Install a package",
      description:
        "Installs a package into this connection's session for the language: pip for Python (a virtual environment of the session's own), npm for JavaScript/TypeScript (the session's node_modules). A spec is a name with an optional version, e.g. requests==2.32.3 or lodash@4.",
      inputSchema: { package: z.string().describe("the package, with an optional version"), ...sessionShape },
      outputSchema: ToolResultShape,
    },
    (args, extra) =>
      admitted(admit, () =>
        guarded(async () => {
          const session = await workspace.session(key(args));
          const installed = await session.installPackages([args.package], { signal: extra.signal });
          return valueAnswer(installed.installed as JsonValue, { stdout: installed.stdout, stderr: installed.stderr });
        }),
      ),
  );

  server.registerTool(
    "get_environment",
    {
      title: "Get the environment",
      description: "The session's interpreter and version, installed packages with versions, platform, working directory and the limits in force.",
      inputSchema: sessionShape,
      outputSchema: ToolResultShape,
    },
    (args) => guarded(async () => valueAnswer(await (await workspace.session(key(args))).environment())),
  );

  server.registerTool(
    "list_files",
    {
      title: "List files",
      description: "Lists a directory of the session's working directory (the session execute_code uses for the same language, runtime and isolation).",
      inputSchema: { path: z.string().default(".").describe("a directory relative to the working directory"), ...fileSessionShape },
      outputSchema: ToolResultShape,
    },
    (args) => guarded(async () => valueAnswer((await (await workspace.session(key(args))).files.list(args.path)) as unknown as JsonValue)),
  );

  server.registerTool(
    "read_file",
    {
      title: "Read a file",
      description: "Reads a file of the session's working directory: UTF-8 text as it is, anything else as base64 (`encoding` says which).",
      inputSchema: { path: z.string().describe("a file relative to the working directory"), ...fileSessionShape },
      outputSchema: ToolResultShape,
    },
    (args) =>
      guarded(async () => {
        const data = await (await workspace.session(key(args))).files.read(args.path);
        const text = new TextDecoder("utf-8", { fatal: true });
        try {
          return valueAnswer({ path: args.path, encoding: "utf8", content: text.decode(data), size: data.length });
        } catch {
          return valueAnswer({ path: args.path, encoding: "base64", content: data.toString("base64"), size: data.length });
        }
      }),
  );

  server.registerTool(
    "write_file",
    {
      title: "Write a file",
      description: "Writes a file into the session's working directory, creating its directories.",
      inputSchema: {
        path: z.string().describe("a file relative to the working directory"),
        content: z.string().describe("the file's content"),
        encoding: z.enum(["utf8", "base64"]).default("utf8").describe("how content is encoded"),
        ...fileSessionShape,
      },
      outputSchema: ToolResultShape,
    },
    (args) =>
      guarded(async () => {
        const data = args.encoding === "base64" ? Buffer.from(args.content, "base64") : Buffer.from(args.content, "utf8");
        await (await workspace.session(key(args))).files.write(args.path, data);
        return valueAnswer({ path: args.path, written: true, size: data.length });
      }),
  );
}
