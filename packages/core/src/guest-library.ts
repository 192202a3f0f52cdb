import { commonJsSource } from "./remote-wrappers.js";
import { runnerFiles } from "./runner-files.js";

let source: string | undefined;

/**
 * Statements for the prelude of a JavaScript engine that is not Node (the isolate, QuickJS): they
 * install the web globals the engine lacks (web-globals.cjs, url.cjs) and bring into scope
 * `format`, `inspect` (inspect.cjs) and `nodeConsole(write, stack)`, a console that behaves as
 * Node's (console.cjs). One text for both engines, so their consoles cannot drift apart.
 */
export function guestLibrarySource(): string {
  source ??= `const { format, inspect } = ${commonJsSource(runnerFiles.inspect)};
const { makeConsole: makeNodeConsole } = ${commonJsSource(runnerFiles.console)};
const nodeConsole = (write, stack) => makeNodeConsole(write, { format, inspect }, stack);
${commonJsSource(runnerFiles.webGlobals)}.installWebGlobals(globalThis, ${commonJsSource(runnerFiles.url)});`;
  return source;
}
