import { createRequire } from "node:module";
import { dirname } from "node:path";
import { loadPyodide } from "pyodide";
const indexURL = `${dirname(createRequire(import.meta.url).resolve("pyodide/package.json"))}/`;
let t = performance.now();
const a = await loadPyodide({ indexURL, _makeSnapshot: true, jsglobals: Object.create(null) });
console.log("cold load", (performance.now() - t).toFixed(0), "ms");
a.runPython("import json, asyncio, selectors");
t = performance.now();
const snap = a.makeMemorySnapshot();
console.log("snapshot", (performance.now() - t).toFixed(0), "ms", (snap.length / 2**20).toFixed(1), "MB");
for (let i = 0; i < 4; i++) {
  t = performance.now();
  const b = await loadPyodide({ indexURL, _loadSnapshot: snap, jsglobals: Object.create(null) });
  const v = b.runPython("import json; json.dumps([1+1])");
  console.log("restore", (performance.now() - t).toFixed(0), "ms", v);
}
for (let i = 0; i < 2; i++) {
  t = performance.now();
  const b = await loadPyodide({ indexURL, jsglobals: Object.create(null) });
  console.log("cold again", (performance.now() - t).toFixed(0), "ms");
}
