// Runs a JavaScript snippet prepared on the host (prepareJavaScript + asyncFunctionSource) inside an
// engine that is not a node child of ours (E2B's interpreter, a Bacalhau container) and returns
// its result {output} or {error}. Plain CommonJS with no imports: it travels as source text,
// evaluated together with to-output.cjs.
"use strict";

/**
 * payload: { source, filename, inputs }. The source is evaluated at global scope, named by
 * sourceURL as the user's file; its function header takes the first line, so frames in the user's
 * file move up by one before the host maps them back to the user's positions.
 */
async function runPrepared(payload, { toOutput, publishInputs }) {
  const { filename } = payload;
  const userFrames = (stack) =>
    String(stack ?? "")
      .split("\n")
      .filter((line, i) => i === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`))
      .join("\n")
      .replace(new RegExp(`${filename.replace(".", "\\.")}:(\\d+):`, "g"), (_, line) => `${filename}:${line - 1}:`);
  const describe = (error) =>
    error instanceof Error
      ? { kind: error instanceof SyntaxError ? "syntax" : "runtime", name: error.name, message: error.message, traceback: userFrames(error.stack) }
      : { kind: "runtime", name: "Error", message: `Uncaught ${String(error)}`, traceback: "" };
  publishInputs(globalThis, payload.inputs);
  let value;
  try {
    value = await (0, eval)(`${payload.source}\n//# sourceURL=${filename}`)();
  } catch (error) {
    return { error: describe(error) };
  }
  try {
    return { output: toOutput(value) };
  } catch (error) {
    return { error: { ...describe(error), traceback: "" } };
  }
}

module.exports = { runPrepared };
