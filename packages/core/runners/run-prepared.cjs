// Runs a JavaScript snippet prepared on the host (prepareJavaScript + asyncFunctionSource) inside an
// engine that is not a node child of ours (E2B's interpreter, a Bacalhau container) and returns
// its result {output} or {error}. Plain CommonJS with no imports: it travels as source text,
// evaluated together with to-output.cjs.
"use strict";

/**
 * payload: { source, filename, inputs }. `compile` turns the source into the function, named as
 * the user's file (by default an indirect eval with sourceURL); its function header takes the first line, so frames in the user's
 * file move up by one before the host maps them back to the user's positions.
 */
async function runPrepared(payload, { toOutput, publishInputs }, compile = evaluate) {
  const { filename } = payload;
  const userFrames = (stack) =>
    String(stack ?? "")
      .split("\n")
      .filter((line, i) => i === 0 || !/^\s+at /.test(line) || line.includes(`${filename}:`))
      .join("\n")
      .replace(new RegExp(`${filename.replace(".", "\\.")}:(\\d+):`, "g"), (_, line) => `${filename}:${line - 1}:`);
  // A SyntaxError is a syntax error of the code only while compiling it: JSON.parse throws one too.
  const describe = (error, compiling = false) =>
    error instanceof Error
      ? { kind: compiling && error instanceof SyntaxError ? "syntax" : "runtime", name: error.name, message: error.message, traceback: userFrames(error.stack) }
      : { kind: "runtime", name: "Error", message: `Uncaught ${String(error)}`, traceback: "" };
  publishInputs(globalThis, payload.inputs);
  let fn;
  try {
    fn = compile(payload.source, filename);
  } catch (error) {
    return { error: describe(error, true) };
  }
  let value;
  try {
    value = await fn();
  } catch (error) {
    return { error: describe(error) };
  }
  try {
    return { output: toOutput(value) };
  } catch (error) {
    return { error: { ...describe(error), traceback: "" } };
  }
}

/** Engines that honour sourceURL name the evaluated code after the user's file this way. */
function evaluate(source, filename) {
  return (0, eval)(`${source}\n//# sourceURL=${filename}`);
}

module.exports = { runPrepared };
