import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Router } from "coderouter";
import { Gate } from "./gate.js";
import type { App, Routes } from "./http/app.js";
import { authorize } from "./http/auth.js";
import { HttpError, toHttpError } from "./http/error.js";
import { Exchange } from "./http/exchange.js";
import { Executions } from "./http/executions.js";
import { guardRequest } from "./http/guard.js";
import { DefaultIsolation } from "./http/isolation.js";
import { Metrics } from "./metrics.js";
import { LazyMcpEndpoint, mcpRoutes } from "./routes/mcp.js";
import { seedRoutes } from "./routes/seed.js";
import { sessionRoutes } from "./routes/sessions.js";
import { v1Routes } from "./routes/v1.js";
import { readServerSettings, type ServerSettings } from "./settings.js";

export interface RunningServer {
  url: string;
  /** Stops accepting, lets running work finish up to the deadline, ends the rest, closes the router. */
  close(): Promise<void>;
}

/** Tried in order; the first group that knows the route answers it. */
const ROUTES: Routes[] = [v1Routes, sessionRoutes, seedRoutes, mcpRoutes];

/**
 * The HTTP API over a router: JSON in, the ExecutionResult out (or a stream of output events and
 * then the result, as NDJSON). Safe by default: a bearer token is required beyond loopback, bodies
 * are bounded, work is bounded by a concurrency limit with a queue, and shutdown is graceful.
 */
export async function startServer(router: Router, overrides: Partial<ServerSettings> = {}, env = process.env): Promise<RunningServer> {
  const settings = readServerSettings(env, overrides);
  const metrics = new Metrics();
  const gate = new Gate(settings.concurrency, settings.queue);
  const isolation = new DefaultIsolation(router, settings.defaultIsolation);
  const app: App = { router, settings, metrics, gate, executions: new Executions(gate, metrics), isolation, mcp: new LazyMcpEndpoint(router, gate, isolation) };

  const handle = async (exchange: Exchange): Promise<void> => {
    if (guardRequest(exchange.req, exchange.res, settings)) return;
    if (exchange.route === "GET /healthz") {
      const stopping = app.executions.isStopping;
      return exchange.send(stopping ? 503 : 200, { ok: !stopping });
    }
    authorize(exchange.req, settings.token);
    for (const routes of ROUTES) if (await routes(app, exchange)) return;
    throw new HttpError(404, { error: { kind: "not_found", message: `no route for ${exchange.route}` } });
  };

  const server = createServer((req, res) => {
    const exchange = new Exchange(req, res, metrics, settings.bodyLimitBytes);
    handle(exchange).catch((error) => {
      const failure = toHttpError(error);
      if (!res.headersSent) exchange.send(failure.status, failure.body, failure.headers);
      else res.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(settings.port, settings.host, () => resolve());
  });
  // Off any request's path: the first request that names no isolation would otherwise wait for it.
  const probed = isolation.probe();
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;

  return {
    url: `http://${host}:${address.port}`,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await app.executions.stop(settings.shutdownTimeoutMs);
      await app.mcp.close();
      server.closeAllConnections();
      await closed;
      await probed;
      await router.close();
    },
  };
}
