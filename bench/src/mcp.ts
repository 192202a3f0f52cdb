import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createRouter } from "coderouter";
import { startServer } from "@coderouter/server";
import { interleaved, percentile, summary } from "./measure.js";
import type { Row } from "./table.js";

/**
 * What the MCP surface adds: execute_code over streamable HTTP (the SDK's client, loopback) against
 * session.execute() on an isolate session of the same router, in the same process.
 */
export async function mcpRows(rounds: (n: number) => number): Promise<Row[]> {
  const router = createRouter({ settings: { enabledRuntimes: ["isolate"] } });
  const server = await startServer(router, { port: 0 }, {});
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(transport);
  const session = await router.openSession({ language: "javascript", runtime: "isolate" });
  const overMcp = async () => {
    const result = await client.callTool({ name: "execute_code", arguments: { code: "1 + 1", language: "javascript", runtime: "isolate" } });
    if ((result.structuredContent as { output?: unknown }).output !== 2) throw new Error("execute_code did not answer 2");
  };
  const direct = () => session.execute("1 + 1");
  for (let i = 0; i < 200; i++) await Promise.all([overMcp(), direct()]);
  const [mcpSamples, directSamples] = await interleaved(rounds(2000), overMcp, direct, rounds(200));
  const added = percentile(mcpSamples, 50) - percentile(directSamples, 50);
  await transport.terminateSession();
  await client.close();
  await session.close();
  await server.close();
  return [
    {
      name: "MCP execute_code over streamable HTTP (isolate session, loopback)",
      ours: summary(mcpSamples, 0),
      baseline: summary(directSamples, 0),
      baselineName: "session.execute() on an isolate session of the same router",
      target: `MCP adds ≤ 3 ms p50 (measured ${added.toFixed(2)} ms)`,
      met: added <= 3,
    },
  ];
}
