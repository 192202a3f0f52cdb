const ivm = require("isolated-vm");
const mode = process.argv[2];
const iso = new ivm.Isolate({ memoryLimit: 64, onCatastrophicError: (m) => { console.log("CATASTROPHIC", m); } });
const ctx = iso.createContextSync();
(async () => {
  try {
    await ctx.eval("const ms = []; for (let i = 0; i < 3; i++) ms.push(new WebAssembly.Memory({ initial: 4096 })); globalThis.ms = ms; 1", { timeout: 2000 });
    if (mode === "grow") await ctx.eval("const x = []; while (true) x.push(new WebAssembly.Memory({ initial: 1024 }))", { timeout: 3000 });
  } catch (e) { console.log("err", e.message) }
  if (mode === "dispose") iso.dispose();
  if (mode === "exit") process.exit(0);
  console.log("done");
})();
