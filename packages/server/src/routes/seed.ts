import type { Routes } from "../http/app.js";
import { isJsonObject, parseBody } from "../http/exchange.js";
import { SEED_ENVIRONMENTS, SeedFileSchema, SeedInstallSchema, SeedSessionExecuteSchema, SeedSessionSchema } from "../schemas.js";
import { fileOperation } from "./files.js";
import { sendEnvironment, sendInstall } from "./session-tools.js";
import { execute } from "./v1.js";

const SEED_FILES_PATH = /^\/api\/e2b\/files\/([^/]+)(?:\/(.+))?$/;
const SEED_ENVIRONMENT_PATH = /^\/api\/e2b\/environment\/([^/]+)$/;

/** The seed's routes, kept so its clients work unchanged: the same answers as the v1 API. */
export const seedRoutes: Routes = async (app, exchange) => {
  const { router } = app;
  switch (exchange.route) {
    case "POST /api/e2b/execute": {
      // { code, language, session_id? }: with a session id it runs in that session.
      const body = await exchange.readJson();
      const fields = isJsonObject(body) ? body : undefined;
      const sessionId = fields?.session_id;
      if (typeof sessionId !== "string") {
        const { session_id: _ignored, ...request } = fields ?? {};
        await execute(app, exchange, fields ? request : body);
        return true;
      }
      const { code, inputs, language } = parseBody(SeedSessionExecuteSchema, body, "session execution");
      const session = router.session(sessionId);
      await app.executions.run(exchange, (run) => session.execute(code, { ...(inputs ? { inputs } : {}), ...(language ? { language } : {}), ...run }));
      return true;
    }
    case "POST /api/sessions": {
      // { agent, environment: "e2b-python", provider: "e2b" }: the language comes from the
      // environment; provider e2b opens it on E2B or fails saying why (503), never elsewhere.
      const body = await exchange.readBodyAs(SeedSessionSchema, "session");
      const language = body.language ?? (body.environment ? SEED_ENVIRONMENTS[body.environment as keyof typeof SEED_ENVIRONMENTS] : "python");
      const runtime = body.provider === "e2b" ? "e2b" : "auto";
      const session = await router.openSession(await app.isolation.apply({ language, runtime }));
      exchange.send(201, {
        ...session.info(),
        session_id: session.id,
        provider: session.runtime,
        ...(body.agent ? { agent: body.agent } : {}),
        ...(body.environment ? { environment: body.environment } : {}),
      });
      return true;
    }
    case "POST /api/e2b/files": {
      // { session_id, file_path, content (base64) }.
      const body = await exchange.readBodyAs(SeedFileSchema, "file upload: session_id, file_path and content (base64) are required");
      await router.session(body.session_id).files.write(body.file_path, Buffer.from(body.content, "base64"));
      exchange.send(200, { path: body.file_path, written: true });
      return true;
    }
    case "POST /api/e2b/install_package": {
      // Seed 003's install_package tool: { session_id, package }.
      const body = await exchange.readBodyAs(SeedInstallSchema, "installation: session_id and package are required");
      await sendInstall(exchange, router.session(body.session_id), [body.package]);
      return true;
    }
  }
  // Seed 003's get_environment tool: GET /api/e2b/environment/:session_id.
  const environment = exchange.url.pathname.match(SEED_ENVIRONMENT_PATH);
  if (environment && exchange.req.method === "GET") {
    await sendEnvironment(exchange, router.session(decodeURIComponent(environment[1]!)));
    return true;
  }
  const match = exchange.url.pathname.match(SEED_FILES_PATH);
  if (!match || exchange.req.method !== "GET") return false;
  // GET /api/e2b/files/:id?directory=… lists, /api/e2b/files/:id/<path> reads.
  const target = match[2] ? decodeURIComponent(match[2]) : (exchange.url.searchParams.get("directory") ?? "/workspace");
  await fileOperation(exchange, router.session(decodeURIComponent(match[1]!)), match[2] ? "GET" : "LIST", target);
  return true;
};
