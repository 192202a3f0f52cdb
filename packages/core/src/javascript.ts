import { createRequire } from "node:module";
import { parse, type Node, type Program } from "acorn";
import type { ExecutionError, Language } from "./schemas.js";
import { applyRewrites, decodeMappings, SourcePositions, type Rewrite } from "./source-positions.js";

/**
 * JavaScript and TypeScript snippets are run as the body of an async function, so that a top-level
 * `return` and a top-level `await` both work the way users of workflow code nodes expect. This module
 * turns a snippet into that body: types stripped, static imports turned into dynamic ones, and the
 * last expression statement returned. Every rewrite keeps the line structure of the user's code, so
 * line numbers in errors are the user's own.
 */
export type PreparedJavaScript =
  | {
      ok: true;
      body: string;
      filename: string;
      /** Maps engine positions (in `body`) back to the user's code, in messages and stacks. */
      positions: SourcePositions;
    }
  | { ok: false; error: ExecutionError };

/** Sucrase is loaded on the first TypeScript snippet: it costs ~40 ms to import, JavaScript never needs it. */
let sucrase: typeof import("sucrase") | undefined;
function stripTypes(code: string): { code: string; mappings: string } {
  sucrase ??= createRequire(import.meta.url)("sucrase") as typeof import("sucrase");
  const result = sucrase.transform(code, {
    transforms: ["typescript"],
    disableESTransforms: true,
    sourceMapOptions: { compiledFilename: "main.ts" },
    filePath: "main.ts",
  });
  return { code: result.code, mappings: result.sourceMap?.mappings ?? "" };
}

/**
 * Workflow nodes and agents run the same snippet again and again: preparing it (a parse, and for
 * TypeScript a transform) is done once per distinct snippet and kept for the most recent ones.
 */
const PREPARED_CACHE_SIZE = 256;
const prepared = new Map<string, PreparedJavaScript>();

/**
 * `persist` (sessions): top-level declarations become properties of the global object, so that
 * the next execution in the same context sees them, as in a REPL or a notebook.
 */
export function prepareJavaScript(code: string, language: Language, { persist = false } = {}): PreparedJavaScript {
  if (language !== "javascript" && language !== "typescript") {
    // Runtimes reach here with whatever is not Python; the router only sends what they declare.
    return { ok: false, error: { kind: "runtime", name: "UnsupportedLanguageError", message: `${language} is not JavaScript or TypeScript` } };
  }
  const key = `${language}\0${persist}\0${code}`;
  let result = prepared.get(key);
  if (result) {
    // Map order is insertion order: moving a hit to the end keeps the least recent first.
    prepared.delete(key);
  } else {
    result = prepare(code, language, persist);
    if (prepared.size >= PREPARED_CACHE_SIZE) prepared.delete(prepared.keys().next().value!);
  }
  prepared.set(key, result);
  return result;
}

function prepare(code: string, language: "javascript" | "typescript", persist: boolean): PreparedJavaScript {
  const filename = language === "typescript" ? "main.ts" : "main.js";
  let source = code;
  let typeMap: [number, number, number][][] | undefined;
  if (language === "typescript") {
    try {
      // Sucrase only strips types (no type check, as the TypeScript node in a workflow expects) and
      // keeps every line where it was.
      const stripped = stripTypes(code);
      source = stripped.code;
      typeMap = decodeMappings(stripped.mappings);
    } catch (error) {
      return { ok: false, error: syntaxError(error, code, filename) };
    }
  }
  let program: Program;
  try {
    program = parse(source, {
      ecmaVersion: "latest",
      sourceType: "script",
      allowReturnOutsideFunction: true,
      allowAwaitOutsideFunction: true,
      allowImportExportEverywhere: true,
      allowHashBang: true,
      locations: true,
    });
  } catch (error) {
    const positions = new SourcePositions(source, source, [[0, 0]], typeMap);
    const loc = (error as { loc?: { line: number; column: number } }).loc;
    const mapped = loc ? positions.fromStripped(loc.line, loc.column + 1) : undefined;
    const at = mapped ? { line: mapped.line, column: mapped.column - 1 } : undefined;
    return { ok: false, error: syntaxError({ message: (error as Error).message, loc: at }, code, filename) };
  }
  const rewrites: Rewrite[] = persist ? globalDeclarations(program, source) : [];
  for (const statement of program.body) {
    if (statement.type === "ImportDeclaration") rewrites.push(dynamicImport(statement, source));
  }
  const last = program.body.at(-1);
  if (last?.type === "ExpressionStatement" && !("directive" in last && last.directive)) {
    const { start, end } = last.expression;
    rewrites.push({ start: last.start, end: last.end, parts: ["return (", { from: start, to: end }, ");"] });
  }
  const { output: body, anchors } = applyRewrites(source, rewrites);
  return { ok: true, body, filename, positions: new SourcePositions(body, source, anchors, typeMap) };
}

/**
 * The prepared body as the source of an async function expression. The header takes a line of its
 * own, so engines compile it with `lineOffset` to report the user's line numbers.
 */
export function asyncFunctionSource(body: string): { source: string; lineOffset: number } {
  return { source: `(async function () {\n${body}\n})`, lineOffset: -1 };
}

type ImportNode = Extract<Program["body"][number], { type: "ImportDeclaration" }>;

/** Rewrites that make every top-level declaration a global, keeping each line where it was. */
function globalDeclarations(program: Program, source: string): Rewrite[] {
  const rewrites: Rewrite[] = [];
  const hoisted: string[] = [];
  for (const statement of program.body) {
    if (statement.type === "FunctionDeclaration" && statement.id) {
      // Declarations are hoisted: publishing them first keeps calls before the definition working.
      hoisted.push(`globalThis.${statement.id.name} = ${statement.id.name};`);
    } else if (statement.type === "ClassDeclaration" && statement.id) {
      rewrites.push({
        start: statement.start,
        end: statement.end,
        parts: [`globalThis.${statement.id.name} = `, { from: statement.start, to: statement.end }, ";"],
      });
    } else if (statement.type === "VariableDeclaration") {
      if (statement.declarations.every((d) => d.id.type === "Identifier")) {
        const parts: Rewrite["parts"] = [];
        for (const d of statement.declarations) {
          const name = (d.id as { name: string }).name;
          parts.push(`globalThis.${name} = `, ...(d.init ? [{ from: d.init.start, to: d.init.end }] : ["undefined"]), ";");
        }
        parts.push(keepLines(source, statement).slice(newlinesIn(source, statement.declarations)));
        rewrites.push({ start: statement.start, end: statement.end, parts });
      } else {
        // Destructuring: keep the declaration, then copy each name it binds.
        const names = statement.declarations.flatMap((d) => boundNames(d.id));
        rewrites.push({ start: statement.end, end: statement.end, parts: [`; ${names.map((n) => `globalThis.${n} = ${n};`).join(" ")}`] });
      }
    }
  }
  if (hoisted.length) rewrites.unshift({ start: 0, end: 0, parts: [hoisted.join(" ")] });
  return rewrites;
}

/** Newlines the initialisers keep by themselves, so only the others are added back. */
function newlinesIn(source: string, declarations: { init?: Node | null }[]): number {
  return declarations.reduce((n, d) => n + (d.init ? source.slice(d.init.start, d.init.end).split("\n").length - 1 : 0), 0);
}

function boundNames(pattern: unknown): string[] {
  const node = pattern as { type: string; [key: string]: unknown };
  switch (node.type) {
    case "Identifier":
      return [node.name as string];
    case "ObjectPattern":
      return (node.properties as { value?: unknown; argument?: unknown }[]).flatMap((p) => boundNames(p.value ?? p.argument));
    case "ArrayPattern":
      return (node.elements as unknown[]).flatMap((e) => (e ? boundNames(e) : []));
    case "RestElement":
      return boundNames(node.argument);
    case "AssignmentPattern":
      return boundNames(node.left);
    default:
      return [];
  }
}

function dynamicImport(node: ImportNode, source: string): Rewrite {
  const from = JSON.stringify(String(node.source.value));
  const named: string[] = [];
  let namespace: string | undefined;
  for (const spec of node.specifiers) {
    if (spec.type === "ImportNamespaceSpecifier") namespace = spec.local.name;
    else if (spec.type === "ImportDefaultSpecifier") named.push(`default: ${spec.local.name}`);
    else {
      const imported = spec.imported.type === "Identifier" ? spec.imported.name : JSON.stringify(spec.imported.value);
      named.push(imported === spec.local.name ? imported : `${imported}: ${spec.local.name}`);
    }
  }
  let text: string;
  if (namespace && named.length) text = `const ${namespace} = await import(${from}), { ${named.join(", ")} } = ${namespace};`;
  else if (namespace) text = `const ${namespace} = await import(${from});`;
  else if (named.length) text = `const { ${named.join(", ")} } = await import(${from});`;
  else text = `await import(${from});`;
  return { start: node.start, end: node.end, parts: [text + keepLines(source, node)] };
}

function keepLines(source: string, node: Node): string {
  return "\n".repeat(source.slice(node.start, node.end).split("\n").length - 1);
}

function syntaxError(error: unknown, code: string, filename: string): ExecutionError {
  const e = error as { message?: string; loc?: { line: number; column: number } };
  // Drop the parsers' own decorations: sucrase's "Error transforming main.ts: ", acorn's "(3:5)".
  const message = String(e.message ?? error)
    .replace(/^Error transforming [^:]+: /, "")
    .replace(/\s*\(\d+:\d+\)$/, "");
  if (!e.loc) return { kind: "syntax", name: "SyntaxError", message };
  const { line, column } = e.loc;
  const text = code.split("\n")[line - 1] ?? "";
  return {
    kind: "syntax",
    name: "SyntaxError",
    message: `${message} (${filename}:${line}:${column + 1})`,
    traceback: `${filename}:${line}\n${text}\n${" ".repeat(column)}^\n\nSyntaxError: ${message}`,
  };
}

/** An engine's error with every position in it moved back into the user's code. */
export function inUserPositions(error: ExecutionError | undefined, prepared: Extract<PreparedJavaScript, { ok: true }>): ExecutionError | undefined {
  if (!error) return undefined;
  const remap = (text: string) => prepared.positions.remap(text, prepared.filename);
  return { ...error, message: remap(error.message), ...(error.traceback ? { traceback: remap(error.traceback) } : {}) };
}
