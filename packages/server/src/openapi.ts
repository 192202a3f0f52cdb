import { z } from "zod";
import { ExecutionRequestSchema, ExecutionResultSchema, RoutingDecisionSchema } from "coderouter";

/** What a request looks like over HTTP: the library's request without its callbacks and signal. */
export const HttpExecutionRequestSchema = ExecutionRequestSchema.omit({ signal: true, onStdout: true, onStderr: true });

const json = (schema: z.ZodType, io: "input" | "output") => z.toJSONSchema(schema, { io, unrepresentable: "any" });

const errorBody = {
  type: "object",
  properties: {
    error: {
      type: "object",
      properties: { kind: { type: "string" }, message: { type: "string" }, issues: { type: "array" } },
      required: ["kind", "message"],
    },
  },
};

let document: object | undefined;

/** The OpenAPI 3.1 document served at /openapi.json, built from the same zod schemas the API validates with. */
export function openApiDocument(): object {
  document ??= {
    openapi: "3.1.0",
    info: { title: "coderouter", version: "0.1.0", description: "Run Python, JavaScript and TypeScript on the best available runtime." },
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
            "200": { description: "The code ran (ok may be false: the code failed)", content: { "application/json": { schema: { $ref: "#/components/schemas/ExecutionResult" } } } },
            "400": { description: "Invalid request, with the issue paths", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } },
            "401": { description: "Missing or wrong bearer token" },
            "413": { description: "Body over CODEROUTER_BODY_LIMIT_BYTES" },
            "429": { description: "Too many executions running and queued; see Retry-After" },
            "503": { description: "No runtime can take the request, or shutting down" },
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
      "/v1/runtimes": { get: { summary: "Every runtime: installed, enabled, available, why, how to fix, capabilities.", responses: { "200": { description: "Runtimes" } } } },
      "/api/e2b/execute": { post: { summary: "The seed's route: { code, language, session_id? }; answers as /v1/execute.", responses: { "200": { description: "ExecutionResult" } } } },
      "/healthz": { get: { summary: "Liveness; 503 while shutting down.", security: [], responses: { "200": { description: "Alive" } } } },
      "/metrics": { get: { summary: "Prometheus metrics.", responses: { "200": { description: "text/plain" } } } },
    },
  };
  return document;
}
