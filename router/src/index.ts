export { createRouter, Router, type RouterOptions, type RuntimeStatus } from "./router.js";
export { RouterSettingsSchema, ROUTER_ENV, type RouterSettings } from "./config.js";
export { importedModules } from "./imports.js";
export { Session, SessionRequestSchema, SessionExecuteSchema, type SessionInfo, type SessionRequest, type SessionExecuteOptions } from "./sessions.js";
export * from "@coderouter/core";
export { executeCodeNode, CodeNodeConfigSchema, type CodeNodeConfig, type CodeNodeResult } from "./code-node.js";
