import ivm from "isolated-vm";
const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const s = JSON.stringify(rows);
for (const mem of [128, 256]) {
  const iso = new ivm.Isolate({ memoryLimit: mem });
  const c0 = await iso.createContext();
  await c0.global.set("s", s);
  const inner = await c0.eval(`(() => { for (let i = 0; i < 100; i++) JSON.parse(s); const t = Date.now(); for (let i = 0; i < 500; i++) JSON.parse(s); return (Date.now() - t) / 500; })()`);
  let tot = 0;
  for (let i = 0; i < 400; i++) { const c = await iso.createContext(); await c.global.set("s", s); const t = performance.now(); await c.eval("JSON.parse(s); 1"); if (i >= 100) tot += performance.now() - t; c.release(); }
  let tot2 = 0;
  for (let i = 0; i < 400; i++) { const c = await iso.createContext(); await c.global.set("s", s); await c.eval("1"); const t = performance.now(); await c.eval("1"); if (i >= 100) tot2 += performance.now() - t; c.release(); }
  console.log(mem, "same context", inner, "fresh context parse+eval", (tot / 300).toFixed(3), "eval 1", (tot2 / 300).toFixed(3));
}
