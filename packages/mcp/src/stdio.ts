import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { Readable, Writable } from "node:stream";
import type { Router } from "coderouter";
import { createConnectionServer } from "./server.js";

/**
 * Serves one MCP client over stdio (`coderouter mcp`) until it closes stdin, then closes the
 * connection's sessions. Resolves when the client has gone.
 */
export async function serveStdio(router: Router, stdin: Readable = process.stdin, stdout: Writable = process.stdout): Promise<void> {
  const { server, workspace } = createConnectionServer(router);
  const transport = new StdioServerTransport(stdin, stdout);
  const gone = new Promise<void>((resolve) => {
    transport.onclose = resolve;
    // The SDK's stdio transport does not watch for end of input: a client that exits only closes the pipe.
    stdin.once("end", () => void server.close());
    stdin.once("close", () => void server.close());
  });
  await server.connect(transport);
  await gone;
  await workspace.close();
}
