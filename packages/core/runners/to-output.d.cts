import type { JsonValue } from "../src/schemas.js";
export declare function toOutput(value: unknown): JsonValue;
export declare function publishInputs(target: object, inputs: Record<string, JsonValue>): void;
