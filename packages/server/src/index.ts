export { startServer, ServerSettingsSchema, SERVER_ENV, type RunningServer, type ServerSettings } from "./server.js";
export { openApiDocument, HttpExecutionRequestSchema } from "./openapi.js";
