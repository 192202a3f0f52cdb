import type { Router } from "coderouter";
import type { Gate } from "../gate.js";
import type { Metrics } from "../metrics.js";
import type { LazyMcpEndpoint } from "../routes/mcp.js";
import type { ServerSettings } from "../settings.js";
import type { Exchange } from "./exchange.js";
import type { Executions } from "./executions.js";
import type { DefaultIsolation } from "./isolation.js";

/** What every route group shares: the router it serves and the server's own state. */
export interface App {
  router: Router;
  settings: ServerSettings;
  metrics: Metrics;
  gate: Gate;
  executions: Executions;
  isolation: DefaultIsolation;
  /** MCP over streamable HTTP at /mcp. */
  mcp: LazyMcpEndpoint;
}

/** A group of routes: answers the exchange and resolves true, or resolves false when no route of it matches. */
export type Routes = (app: App, exchange: Exchange) => Promise<boolean>;
