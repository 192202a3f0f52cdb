import type { JsonValue } from "../src/schemas.js";
export declare function toOutput(value: unknown): JsonValue;
