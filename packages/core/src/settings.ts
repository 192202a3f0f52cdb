import { z } from "zod";
import { ConfigError } from "./errors.js";

/**
 * Settings come from two places: environment variables (strings) and programmatic options (typed
 * values, which win). These field builders accept both, so one schema validates either source.
 */
export const setting = {
  boolean: () =>
    z.preprocess(
      (v) => {
        if (typeof v !== "string") return v;
        const s = v.trim().toLowerCase();
        if (["1", "true", "yes", "on"].includes(s)) return true;
        if (["0", "false", "no", "off", ""].includes(s)) return false;
        return v;
      },
      z.boolean({ error: "expected true or false" }),
    ),
  int: (min: number, max = Number.MAX_SAFE_INTEGER) =>
    z.preprocess(
      (v) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v),
      z.number({ error: "expected a whole number" }).int("expected a whole number").min(min).max(max),
    ),
  number: (min: number, max = Number.MAX_VALUE) =>
    z.preprocess((v) => (typeof v === "string" && v.trim() !== "" ? Number(v) : v), z.number({ error: "expected a number" }).min(min).max(max)),
  list: <const T extends readonly [string, ...string[]]>(allowed: T) =>
    z.preprocess(splitList, z.array(z.enum(allowed, { error: `each entry must be one of: ${allowed.join(", ")}` }))),
  /** A comma-separated list of names (an env var) or an array (an option), checked by the caller. */
  names: () => z.preprocess(splitList, z.array(z.string().min(1))),
  string: () => z.string().trim().min(1),
};

function splitList(v: unknown): unknown {
  return typeof v === "string"
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : v;
}

/**
 * Validates settings read from `env` (through `variables`: env var → settings key) merged with
 * `overrides`. A bad value becomes a ConfigError that names the variable the user set.
 */
export function readSettings<S extends z.ZodType>(
  schema: S,
  variables: Record<string, string>,
  env: Record<string, string | undefined>,
  overrides: Record<string, unknown> = {},
): z.output<S> {
  const raw: Record<string, unknown> = {};
  const source: Record<string, string> = {};
  for (const [variable, key] of Object.entries(variables)) {
    const value = env[variable];
    if (value !== undefined && value !== "") {
      raw[key] = value;
      source[key] = variable;
    }
  }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    raw[key] = value;
    source[key] = `option ${key}`;
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const key = String(issue.path[0] ?? "");
  const name = source[key] ?? Object.entries(variables).find(([, k]) => k === key)?.[0] ?? key;
  const given = key in raw ? ` (got ${JSON.stringify(raw[key])})` : "";
  throw new ConfigError(`invalid ${name}${given}: ${issue.message}`, name);
}
