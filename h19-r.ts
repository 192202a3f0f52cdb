import ivm from "isolated-vm";
const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const iso = new ivm.Isolate({ memoryLimit: 128 });
const s = JSON.stringify(rows);
const variants: Record<string, (c: ivm.Context) => Promise<unknown>> = {
  closureParse: (c) => c.evalClosure("globalThis.rows = JSON.parse($0); 1", [s]),
  closureNoParse: (c) => c.evalClosure("globalThis.rows = $0; 1", [s]),
  closureEmpty: (c) => c.evalClosure("1", []),
  globalSetParse: async (c) => { await c.global.set("s", s); return c.eval("globalThis.rows = JSON.parse(s); 1"); },
  externalCopy: (c) => c.global.set("rows", new ivm.ExternalCopy(rows).copyInto()),
  parseTwice: (c) => c.evalClosure("JSON.parse($0); globalThis.rows = JSON.parse($0); 1", [s]),
};
for (const [n, f] of Object.entries(variants)) {
  let tot = 0;
  for (let i = 0; i < 600; i++) { const c = await iso.createContext(); const t = performance.now(); await f(c); if (i >= 100) tot += performance.now() - t; c.release(); }
  console.log(n, (tot / 500).toFixed(3));
}
