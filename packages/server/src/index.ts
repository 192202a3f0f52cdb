export { startServer, type RunningServer } from "./server.js";
export { ServerSettingsSchema, SERVER_ENV, type ServerSettings } from "./settings.js";
export { openApiDocument, HttpExecutionRequestSchema } from "./openapi.js";
