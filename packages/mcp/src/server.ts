import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Router } from "coderouter";
import { registerTools, type Admit } from "./tools.js";
import { Workspace } from "./workspace.js";

export const SERVER_INFO = { name: "coderouter", version: "0.1.0" } as const;

export interface ConnectionServer {
  server: McpServer;
  workspace: Workspace;
}

/**
 * The MCP server of one client connection: the tools over a workspace of its own, whose sessions
 * close when the connection does.
 */
export function createConnectionServer(router: Router, admit?: Admit): ConnectionServer {
  const server = new McpServer(SERVER_INFO, {
    instructions:
      "Runs code for you in sessions kept per language: execute_code, install_package, get_environment, and list_files/read_file/write_file on the session's working directory. Every result has `success`.",
  });
  const workspace = new Workspace(router);
  registerTools(server, workspace, admit);
  server.server.onclose = () => void workspace.close();
  return { server, workspace };
}
