// Runs a JavaScript snippet prepared on the host (prepareJavaScript + asyncFunctionSource) inside an
// engine that is not a node child of ours (E2B's interpreter, a Bacalhau container) and returns
// its result {output} or {error}. Plain CommonJS with no imports: it travels as source text,
// evaluated together with to-output.cjs.
"use strict";

/**
 * payload: { source, filename, inputs }. `compile` turns the source into the function, named as
 * the user's file (by default an indirect eval with sourceURL); the host maps the frames back to the
 * user's positions.
 */
async function runPrepared(payload, { toOutput, publishInputs }, compile = evaluate) {
  const { filename } = payload;
  // The function header joins the code's first line, so the line numbers the engine prints (in a
  // logged error's stack too) are the code's own; only the first line's columns move.
  const columns = payload.source.indexOf("{\n") + 1;
  const source = payload.source.replace("{\n", "{");
  // The user's frames, at most ten as V8 keeps, under the `Name: message` line some engines leave out.
  const userFrames = (error) => {
    const lines = String(error.stack ?? "").split("\n");
    const frames = lines.filter((line) => /^\s+at /.test(line) && line.includes(`${filename}:`)).slice(0, 10);
    const firstFrame = lines.findIndex((line) => /^\s+at /.test(line));
    const head = firstFrame === 0 ? [`${error.name}: ${error.message}`] : lines.slice(0, firstFrame < 0 ? lines.length : firstFrame);
    return [...head, ...frames]
      .join("\n")
      .replace(new RegExp(`${filename.replace(".", "\\.")}:1:(\\d+)`, "g"), (_, column) => `${filename}:1:${column - columns}`);
  };
  // A SyntaxError is a syntax error of the code only while compiling it: JSON.parse throws one too.
  const describe = (error, compiling = false) =>
    error instanceof Error
      ? { kind: compiling && error instanceof SyntaxError ? "syntax" : "runtime", name: error.name, message: error.message, traceback: userFrames(error) }
      : { kind: "runtime", name: "Error", message: `Uncaught ${String(error)}`, traceback: "" };
  publishInputs(globalThis, payload.inputs);
  let fn;
  try {
    fn = compile(source, filename);
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
