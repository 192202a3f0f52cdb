import { readFileSync } from "node:fs";
import { parse } from "dotenv";

/**
 * process.env merged over a dotenv file (variables already set win, as dotenv does). The file's
 * values are not written into process.env, so secrets read from it never reach a child process.
 */
export function loadEnv(path: string | false = ".env"): Record<string, string | undefined> {
  if (path === false) return { ...process.env };
  let fileValues: Record<string, string> = {};
  try {
    fileValues = parse(readFileSync(path));
  } catch (error) {
    if ((error as { code?: string }).code !== "ENOENT") throw error;
  }
  return { ...fileValues, ...process.env };
}
