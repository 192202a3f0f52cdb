import { createRouter } from "coderouter";
const router = createRouter({ env: {} });
let t = performance.now();
const s = await router.runtimes();
console.log("runtimes()", (performance.now() - t).toFixed(0), "ms", s.map((x) => `${x.id}:${x.available}:${x.capabilities?.isolation}`).join(" "));
t = performance.now();
const d = await router.explain({ language: "python", code: "1", isolation: "sandbox" });
console.log("explain", (performance.now() - t).toFixed(0), "ms", d.selected);
await router.close();
