import type { App, Routes } from "../http/app.js";
import { badRequest } from "../http/error.js";
import { isJsonObject, type Exchange } from "../http/exchange.js";
import { openApiDocument } from "../openapi.js";

/** The v1 API without sessions: run, explain, the runtimes, OpenAPI and metrics. */
export const v1Routes: Routes = async (app, exchange) => {
  switch (exchange.route) {
    case "GET /openapi.json":
      exchange.send(200, openApiDocument());
      return true;
    case "GET /v1/runtimes":
      exchange.send(200, { runtimes: await app.router.runtimes() });
      return true;
    case "GET /metrics":
      exchange.send(200, await renderMetrics(app));
      return true;
    case "POST /v1/explain":
      // The router validates the request and answers a ValidationError (400) naming each field.
      exchange.send(200, await app.router.explain((await app.isolation.apply(await exchange.readJson())) as Parameters<App["router"]["explain"]>[0]));
      return true;
    case "POST /v1/execute":
      await execute(app, exchange, await exchange.readJson());
      return true;
  }
  return false;
};

/** Runs a request body on the router, which validates it. Shared with the seed's execute route. */
export async function execute(app: App, exchange: Exchange, body: unknown): Promise<void> {
  if (!isJsonObject(body)) throw badRequest("the body must be a JSON object");
  // The default is settled inside the run, so a request waiting for it already counts as running.
  return app.executions.run(exchange, async (options) =>
    app.router.execute({ ...(await app.isolation.apply(body)), ...options } as Parameters<App["router"]["execute"]>[0]),
  );
}

async function renderMetrics(app: App): Promise<string> {
  return app.metrics.render(
    {
      coderouter_requests_in_flight: { help: "Executions running now.", value: app.gate.inFlight },
      coderouter_requests_queued: { help: "Executions waiting for a slot.", value: app.gate.queued },
      coderouter_sessions_open: { help: "Sessions open now.", value: app.router.sessions().length },
    },
    await app.router.poolSizes(),
  );
}
