// What the confined Pyodide module gets for its dynamic imports of node:fs, node:fs/promises and
// node:vm (used to load packages, which this runtime does not offer): reads of Pyodide's own files,
// and refusals for everything else. See pyodide-loader.mjs.
import { lstatSync as hostLstatSync } from "node:fs";
import { readFile as hostReadFile, stat as hostStat } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, resolve, sep } from "node:path";

const root = `${dirname(createRequire(import.meta.url).resolve("pyodide/package.json"))}${sep}`;

export class SandboxRefusal extends Error {}

export function refuse(what) {
  throw new SandboxRefusal(`${what} is not available: coderouter's WebAssembly sandbox runs no JavaScript from Python`);
}

/** The absolute path of `file` when it is one of Pyodide's own files; refuses any other. */
export function insidePyodide(file) {
  const full = resolve(String(file instanceof URL ? file.pathname : file));
  if (!full.startsWith(root)) refuse(`the host file ${full}`);
  return full;
}

export const lstatSync = (file, options) => hostLstatSync(insidePyodide(file), options);
export const readFile = async (file, options) => hostReadFile(insidePyodide(file), options);
export const stat = async (file, options) => hostStat(insidePyodide(file), options);
export const mkdir = async () => refuse("writing the host filesystem");
export const writeFile = async () => refuse("writing the host filesystem");
export default Object.freeze({ runInThisContext: () => refuse("node:vm") });
