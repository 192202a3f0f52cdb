import { SessionRequestSchema } from "coderouter";
import type { Routes } from "../http/app.js";
import { badRequest, HttpError } from "../http/error.js";
import { HttpSessionExecuteSchema, HttpInstallSchema } from "../schemas.js";
import { fileOperation } from "./files.js";
import { sendEnvironment, sendInstall } from "./session-tools.js";

const SESSION_PATH = /^\/v1\/sessions\/([^/]+)(\/execute|\/files|\/environment|\/packages)?$/;

/** The v1 session API: open, list, inspect, execute in, the files of, and close a session. */
export const sessionRoutes: Routes = async (app, exchange) => {
  const { router } = app;
  if (exchange.route === "GET /v1/sessions") {
    exchange.send(200, { sessions: router.sessions() });
    return true;
  }
  if (exchange.route === "POST /v1/sessions") {
    const session = await router.openSession(await app.isolation.apply(await exchange.readBodyAs(SessionRequestSchema, "session")));
    exchange.send(201, session.info());
    return true;
  }
  const match = exchange.url.pathname.match(SESSION_PATH);
  if (!match) return false;
  const { req, url } = exchange;
  const id = decodeURIComponent(match[1]!);
  const sub = match[2] ?? "";
  const session = router.session(id);
  if (sub === "" && req.method === "GET") {
    exchange.send(200, session.info());
    return true;
  }
  if (sub === "" && req.method === "DELETE") {
    await session.close();
    exchange.send(200, { id, closed: true });
    return true;
  }
  if (sub === "/execute" && req.method === "POST") {
    const { code, ...options } = await exchange.readBodyAs(HttpSessionExecuteSchema, "session execution");
    await app.executions.run(exchange, (run) => session.execute(code, { ...options, ...run }));
    return true;
  }
  if (sub === "/environment" && req.method === "GET") {
    await sendEnvironment(exchange, session);
    return true;
  }
  if (sub === "/packages" && req.method === "POST") {
    await sendInstall(exchange, session, (await exchange.readBodyAs(HttpInstallSchema, "installation")).packages);
    return true;
  }
  if (sub === "/files") {
    const path = url.searchParams.get("path");
    const required = () => {
      if (!path) throw badRequest("the path query parameter is required", [{ path: "path", message: "required" }]);
      return path;
    };
    if (req.method === "PUT" || req.method === "DELETE") {
      await fileOperation(exchange, session, req.method, required());
      return true;
    }
    if (req.method === "GET") {
      await fileOperation(exchange, session, path === null ? "LIST" : "GET", path ?? ".");
      return true;
    }
  }
  throw new HttpError(405, { error: { kind: "method_not_allowed", message: `${req.method} is not allowed on ${url.pathname}` } });
};
