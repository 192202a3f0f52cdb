import type { McpHttpEndpoint } from "@coderouter/mcp";
import type { Router } from "coderouter";
import type { Gate } from "../gate.js";
import type { DefaultIsolation } from "../http/isolation.js";
import type { Routes } from "../http/app.js";
import { HttpError } from "../http/error.js";

/** The MCP endpoint, loaded on the first request to /mcp so a server nobody asks for MCP never loads the SDK. */
export class LazyMcpEndpoint {
  private endpoint?: Promise<McpHttpEndpoint>;

  constructor(
    private readonly router: Router,
    private readonly gate: Gate,
    private readonly isolation: DefaultIsolation,
  ) {}

  get(): Promise<McpHttpEndpoint> {
    this.endpoint ??= import("@coderouter/mcp").then(
      ({ McpHttpEndpoint }) =>
        new McpHttpEndpoint(this.router, {
          idleTimeoutMs: this.router.settings.sessionIdleTimeoutMs,
          admit: () => this.gate.enter(),
          // MCP sessions get the isolation every other HTTP session gets when they name none.
          sessionDefaults: (key) => this.isolation.apply(key),
        }),
    );
    return this.endpoint;
  }

  async close(): Promise<void> {
    await (await this.endpoint)?.close();
  }
}

/** POST /mcp (JSON-RPC), GET /mcp (the server's event stream), DELETE /mcp (the client leaves): streamable HTTP. */
export const mcpRoutes: Routes = async (app, exchange) => {
  if (exchange.url.pathname !== "/mcp") return false;
  const method = exchange.req.method;
  if (method !== "POST" && method !== "GET" && method !== "DELETE") {
    throw new HttpError(405, { error: { kind: "method_not_allowed", message: `${method} is not allowed on /mcp: POST, GET or DELETE` } });
  }
  const body = method === "POST" ? await exchange.readJson() : undefined;
  const endpoint = await app.mcp.get();
  await endpoint.handle(exchange.req, exchange.res, body);
  return true;
};
