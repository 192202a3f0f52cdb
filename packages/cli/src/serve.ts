import { parseArgs } from "node:util";
import { ConfigError, createRouter } from "coderouter";
import { startServer } from "@coderouter/server";
import type { Io } from "./io.js";

/** `coderouter serve`: the HTTP API until SIGINT or SIGTERM, then a graceful shutdown. */
export async function serve(args: string[], io: Io): Promise<number> {
  let values: { port?: string; host?: string };
  try {
    values = parseArgs({ args, options: { port: { type: "string", short: "p" }, host: { type: "string" } }, strict: true }).values;
  } catch (error) {
    io.stderr.write(`coderouter: ${(error as Error).message}\nusage: coderouter serve [--port N] [--host H]\n`);
    return 2;
  }
  const port = values.port === undefined ? undefined : Number(values.port);
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535)) {
    io.stderr.write(`coderouter: --port must be a port number, got "${values.port}"\n`);
    return 2;
  }
  try {
    const router = createRouter();
    const server = await startServer(router, { ...(port !== undefined ? { port } : {}), ...(values.host ? { host: values.host } : {}) });
    io.stderr.write(`coderouter: listening on ${server.url} (POST /v1/execute, GET /openapi.json)\n`);
    // `on`, not `once`: a library's exit hook (execa's signal-exit) re-raises a signal when it finds
    // itself the last listener, which would kill the process before the graceful shutdown.
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
    await stopped;
    io.stderr.write("coderouter: shutting down: finishing running executions\n");
    await server.close();
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`coderouter: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
