import type { Readable, Writable } from "node:stream";
import { ConfigError, createRouter, type Router } from "coderouter";
import type { Io } from "./io.js";

/**
 * `coderouter mcp`: an MCP server for one client over stdin/stdout (the way desktop agents start
 * tool servers), until the client closes stdin or a signal arrives; then its sessions are closed.
 * Only the protocol goes to stdout; anything else goes to stderr.
 */
export async function mcp(args: string[], io: Io): Promise<number> {
  if (args.length > 0) {
    io.stderr.write(`coderouter: mcp takes no arguments (configure it with the CODEROUTER_* and E2B_* variables)\nusage: coderouter mcp\n`);
    return 2;
  }
  let router: Router;
  try {
    router = createRouter();
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`coderouter: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const { serveStdio } = await import("@coderouter/mcp");
  const stopped = new AbortController();
  const stop = () => stopped.abort();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    await Promise.race([
      serveStdio(router, io.stdin as Readable, io.stdout as Writable),
      new Promise<void>((resolve) => stopped.signal.addEventListener("abort", () => resolve())),
    ]);
    return 0;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await router.close();
  }
}
