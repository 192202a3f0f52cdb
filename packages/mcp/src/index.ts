export { createConnectionServer, SERVER_INFO, type ConnectionOptions, type ConnectionServer } from "./server.js";
export { serveStdio } from "./stdio.js";
export { McpHttpEndpoint, type McpHttpOptions } from "./http.js";
export { Workspace, type SessionKey } from "./workspace.js";
export type { Admit } from "./tools.js";
