// Run with: node examples/workflow.mjs
// A three-node workflow, as a workflow engine would run it: each code node picks its runtime,
// reads the variables of the nodes before it, and adds its own.
import { createRouter, executeCodeNode } from "coderouter";

const router = createRouter();
const context = {
  orders: [
    { sku: "a", qty: 2, price: 9.5 },
    { sku: "b", qty: 1, price: 20 },
    { sku: "a", qty: 1, price: 9.5 },
  ],
};

const nodes = [
  {
    // Untrusted-ish glue JavaScript: a V8 isolate (what vm2 used to do).
    language: "javascript",
    runtime: "vm2",
    inputVariables: ["orders"],
    outputVariable: "totals",
    code: `const bySku = {}
for (const o of orders) bySku[o.sku] = (bySku[o.sku] ?? 0) + o.qty * o.price
return bySku`,
  },
  {
    // Python with the standard library, in the local bubblewrap sandbox.
    language: "python",
    runtime: "subprocess",
    isolation: "sandbox",
    inputVariables: ["totals"],
    outputVariable: "stats",
    code: `import statistics
values = list(totals["output"].values())
{"mean": statistics.mean(values), "max": max(values), "count": len(values)}`,
  },
  {
    // TypeScript, routed automatically.
    language: "typescript",
    inputVariables: ["totals", "stats"],
    outputVariable: "report",
    code: `interface Stats { mean: number; max: number; count: number }
const s = stats.output as Stats
console.log(\`\${s.count} products\`)
return \`mean \${s.mean.toFixed(2)}, max \${s.max}\``,
  },
];

try {
  for (const node of nodes) {
    const produced = await executeCodeNode(node, context, { router });
    Object.assign(context, produced);
    const [name, result] = Object.entries(produced)[0];
    console.log(`${name} (${result.metadata.runtime}, ${result.metadata.executionTime.toFixed(1)} ms):`, JSON.stringify(result.output));
  }
} finally {
  await router.close();
}
