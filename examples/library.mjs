// Run with: node examples/library.mjs
// coderouter as a library: one request shape, one result shape, whichever runtime runs it.
import { createRouter } from "coderouter";

const router = createRouter();
try {
  const decision = await router.explain({ language: "python", code: "1 + 1" });
  console.log(`python would run on ${decision.selected}: ${decision.reason}`);

  const result = await router.execute({
    language: "python",
    code: "import statistics\nstatistics.mean(values)",
    inputs: { values: [3, 5, 10] },
    timeoutMs: 5000,
  });
  console.log(result.ok, result.output, `${result.runtime}, ${Math.round(result.metadata.durationMs)} ms`);

  const failed = await router.execute({ language: "javascript", code: "const x = 1\nx.y.z" });
  console.log(failed.ok, failed.error?.kind, failed.error?.name, failed.error?.message);
} finally {
  await router.close();
}
