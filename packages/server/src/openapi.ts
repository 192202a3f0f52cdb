import { z } from "zod";
import { ExecutionRequestSchema, ExecutionResultSchema, RoutingDecisionSchema, SessionRequestSchema } from "coderouter";

/** What a request looks like over HTTP: the library's request without its callbacks and signal. */
export const HttpExecutionRequestSchema = ExecutionRequestSchema.omit({ signal: true, onStdout: true, onStderr: true });

const json = (schema: z.ZodType, io: "input" | "output") => z.toJSONSchema(schema, { io, unrepresentable: "any" });

const errorBody = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: {
        kind: { type: "string" },
        message: { type: "string" },
        retryable: { type: "boolean", description: "Whether the same call may succeed later (429 and 503 also send Retry-After)" },
        issues: { type: "array" },
      },
      required: ["kind", "message"],
    },
  },
};

let document: object | undefined;

/** The OpenAPI 3.1 document served at /openapi.json, built from the same zod schemas the API validates with. */
export function openApiDocument(): object {
  document ??= {
    openapi: "3.1.0",
    info: { title: "coderouter", version: "0.1.0", description: "Run Python, JavaScript and TypeScript, and bash scripts, on the best available runtime." },
    components: {
      schemas: {
        ExecutionRequest: json(HttpExecutionRequestSchema, "input"),
        ExecutionResult: json(ExecutionResultSchema, "output"),
        RoutingDecision: json(RoutingDecisionSchema, "output"),
        Error: errorBody,
      },
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "CODEROUTER_API_TOKEN" } },
    },
    security: [{ bearer: [] }],
    paths: {
      "/v1/execute": {
        post: {
          summary: "Run code. With Accept: application/x-ndjson, streams {type: stdout|stderr, data} events, then {type: result, result}.",
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/ExecutionRequest" } } } },
          responses: {
            "200": {
              description: "The code ran (ok may be false: the code failed)",
              content: { "application/json": { schema: { $ref: "#/components/schemas/ExecutionResult" } } },
            },
            "400": {
              description: "Invalid request, with the issue paths",
              content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
            },
            "401": { description: "Missing or wrong bearer token" },
            "413": { description: "Body over CODEROUTER_BODY_LIMIT_BYTES" },
            "422": { description: "A package of `packages` could not be installed: { error: { kind: package_install, packages, stdout, stderr } }" },
            "429": { description: "Too many executions running and queued; see Retry-After" },
            "503": { description: "No runtime can take the request, the router is closed, or the server is shutting down" },
          },
        },
      },
      "/v1/explain": {
        post: {
          summary: "The routing decision for a request, without running it.",
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/ExecutionRequest" } } } },
          responses: { "200": { description: "The decision", content: { "application/json": { schema: { $ref: "#/components/schemas/RoutingDecision" } } } } },
        },
      },
      "/v1/runtimes": {
        get: { summary: "Every runtime: installed, enabled, available, why, how to fix, capabilities.", responses: { "200": { description: "Runtimes" } } },
      },
      "/v1/sessions": {
        get: { summary: "Open sessions.", responses: { "200": { description: "{ sessions: SessionInfo[] }" } } },
        post: {
          summary: "Open a session: { language, runtime?, isolation?, timeoutMs?, idleTimeoutMs?, memoryMb?, env?, network? }.",
          requestBody: { required: true, content: { "application/json": { schema: json(SessionRequestSchema, "input") } } },
          responses: {
            "201": { description: "SessionInfo: { id, runtime, language, languages, workspace, alive, createdAt, lastUsedAt, idleTimeoutMs }" },
            "400": { description: "Invalid session body" },
            "429": { description: "CODEROUTER_MAX_SESSIONS sessions are open; see Retry-After" },
            "503": { description: "No runtime keeps such sessions" },
          },
        },
      },
      "/v1/sessions/{id}": {
        get: { summary: "A session's info.", responses: { "200": { description: "SessionInfo" }, "404": { description: "No such open session" } } },
        delete: { summary: "Close the session and free its worker and files.", responses: { "200": { description: "Closed" } } },
      },
      "/v1/sessions/{id}/execute": {
        post: {
          summary:
            "Run code in the session: { code, language?, inputs?, timeoutMs? }; each language has its own interpreter over the session's one workspace; NDJSON streaming as /v1/execute.",
          responses: {
            "200": { description: "ExecutionResult", content: { "application/json": { schema: { $ref: "#/components/schemas/ExecutionResult" } } } },
            "404": { description: "The session has ended" },
          },
        },
      },
      "/v1/sessions/{id}/files": {
        get: {
          summary: "?path=… (/workspace/… or relative to it) reads a file (bytes); without path, lists the workspace.",
          responses: {
            "200": { description: "Bytes, or { entries }" },
            "400": { description: "A path outside /workspace" },
            "404": { description: "No such file" },
          },
        },
        put: { summary: "?path=… writes the request body (bytes) to the file.", responses: { "200": { description: "Written" } } },
        delete: { summary: "?path=… removes a file or directory.", responses: { "200": { description: "Removed" } } },
      },
      "/v1/sessions/{id}/environment": {
        get: {
          summary: "The session's interpreter and version, packages with versions, platform, working directory and limits in force.",
          responses: { "200": { description: "{ success, environment }" }, "404": { description: "The session has ended" } },
        },
      },
      "/v1/sessions/{id}/packages": {
        post: {
          summary: "Install packages into the session: { packages: [spec] } (pip for Python, npm for JavaScript); NDJSON streams the installer's output.",
          responses: {
            "200": { description: "{ success, requested, installed: {name: version}, stdout, stderr }" },
            "400": { description: "A spec that is not a package name" },
            "422": { description: "The installation failed: { success: false, error, stdout, stderr }" },
          },
        },
      },
      "/mcp": {
        post: {
          summary:
            "Model Context Protocol over streamable HTTP (JSON-RPC): the agent tools execute_code, install_package, get_environment, list_files, read_file, write_file.",
          responses: { "200": { description: "JSON-RPC answer or an event stream" } },
        },
        get: { summary: "MCP: the server's event stream for a session (Mcp-Session-Id).", responses: { "200": { description: "text/event-stream" } } },
        delete: { summary: "MCP: end the client's MCP session and close its coderouter sessions.", responses: { "200": { description: "Ended" } } },
      },
      "/api/e2b/environment/{id}": {
        get: { summary: "Seed 003's get_environment: the session's environment.", responses: { "200": { description: "{ success, environment }" } } },
      },
      "/api/e2b/install_package": {
        post: {
          summary: "Seed 003's install_package: { session_id, package }.",
          responses: { "200": { description: "{ success, installed, stdout, stderr }" }, "422": { description: "The installation failed" } },
        },
      },
      "/api/sessions": {
        post: {
          summary:
            "The seed's route: { agent, environment (e2b-python, python, node, javascript, typescript), provider (e2b, auto) } opens a session; provider e2b opens it on E2B only.",
          responses: {
            "201": { description: "SessionInfo with session_id and provider" },
            "400": { description: "An unknown environment or provider, listing the accepted values" },
            "503": { description: "provider e2b, and E2B cannot serve the session (the reason is in the message)" },
          },
        },
      },
      "/api/e2b/files": {
        post: {
          summary: "The seed's route: { session_id, file_path (/workspace/…), content (base64) } writes a file.",
          responses: { "200": { description: "Written" }, "400": { description: "Invalid base64, or a path outside /workspace" } },
        },
      },
      "/api/e2b/files/{id}": {
        get: {
          summary: "The seed's route: ?directory=… lists (/workspace by default); /api/e2b/files/{id}/{path} reads.",
          responses: { "200": { description: "Entries or bytes" }, "404": { description: "No such file or directory" } },
        },
      },
      "/api/e2b/execute": {
        post: {
          summary:
            "The seed's route: { code, language, session_id? }; answers as /v1/execute (in the session when session_id is given, in that language's interpreter of the session).",
          responses: { "200": { description: "ExecutionResult" } },
        },
      },
      "/healthz": { get: { summary: "Liveness; 503 while shutting down.", security: [], responses: { "200": { description: "Alive" } } } },
      "/metrics": { get: { summary: "Prometheus metrics.", responses: { "200": { description: "text/plain" } } } },
    },
  };
  return document;
}
