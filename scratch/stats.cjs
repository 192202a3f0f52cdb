const ivm = require("isolated-vm");
const iso = new ivm.Isolate({ memoryLimit: 64 });
const ctx = iso.createContextSync();
console.log(iso.getHeapStatisticsSync());
ctx.evalSync("globalThis.m = new WebAssembly.Memory({ initial: 4096 }); new Uint8Array(m.buffer).fill(1)");
console.log(iso.getHeapStatisticsSync());
try { ctx.evalSync("globalThis.b = new ArrayBuffer(200*1024*1024)"); } catch (e) { console.log("AB", e.message) }
