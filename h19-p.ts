import { createRouter } from "coderouter";
const rows = Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `item ${i}`, price: i * 1.5, tags: ["a", "b"], active: i % 2 === 0 }));
const code = "return rows.filter((r) => r.active).map((r) => ({ id: r.id, name: r.name.toUpperCase(), total: r.price * 2, tags: r.tags.length }));";
const router = createRouter({ settings: { enabledRuntimes: ["isolate"] } });
const ours = async () => { const r = await router.execute({ language: "javascript", code, inputs: { rows }, runtime: "isolate" }); if (!r.ok) throw new Error(JSON.stringify(r.error)); return r; };
for (let i = 0; i < 3000; i++) await ours();
await router.close();
