import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Router } from "coderouter";
import { registerTools, type Admit } from "./tools.js";
import { Workspace, type SessionKey } from "./workspace.js";

export interface ConnectionOptions {
  /** The embedding server's concurrency limit, so MCP executions count with every other execution. */
  admit?: Admit;
  /** Fills in what a tool call leaves open, such as the server's default isolation. */
  sessionDefaults?: (key: SessionKey) => Promise<SessionKey>;
}

export const SERVER_INFO = { name: "coderouter", version: "0.1.0" } as const;

export interface ConnectionServer {
  server: McpServer;
  workspace: Workspace;
}

/**
 * The MCP server of one client connection: the tools over a workspace of its own, whose sessions
 * close when the connection does.
 */
export function createConnectionServer(router: Router, options: ConnectionOptions = {}): ConnectionServer {
  const server = new McpServer(SERVER_INFO, {
    instructions:
      "Runs code for you in sessions kept per language: execute_code, install_package, get_environment, and list_files/read_file/write_file on the session's working directory. Every result has `success`.",
  });
  const workspace = new Workspace(router, options.sessionDefaults);
  registerTools(server, workspace, options.admit);
  server.server.onclose = () => void workspace.close();
  return { server, workspace };
}
