const ivm = require("isolated-vm");
const snap = ivm.Isolate.createSnapshot([{ code: "delete globalThis.WebAssembly; globalThis.marker = 1" }]);
const iso = new ivm.Isolate({ memoryLimit: 64, snapshot: snap });
const ctx = iso.createContextSync();
console.log(ctx.evalSync("typeof WebAssembly + ' ' + typeof marker"));
