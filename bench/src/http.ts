import { Agent, request } from "node:http";
import { createRouter } from "coderouter";
import { startServer } from "@coderouter/server";
import { interleaved, percentile, summary, throughput } from "./measure.js";
import type { Row } from "./table.js";

/** What HTTP adds: POST /v1/execute on loopback (keep-alive) against the same router called directly. */
export async function httpRows(rounds: (n: number) => number): Promise<Row[]> {
  const router = createRouter({ settings: { enabledRuntimes: ["isolate"] } });
  const server = await startServer(router, { port: 0 }, {});
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const body = JSON.stringify({ language: "javascript", code: "1 + 1", runtime: "isolate" });
  const { hostname, port } = new URL(server.url);
  const overHttp = () =>
    new Promise<void>((resolve, reject) => {
      const req = request(
        {
          host: hostname,
          port,
          path: "/v1/execute",
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const direct = () => router.execute({ language: "javascript", code: "1 + 1", runtime: "isolate" });
  for (let i = 0; i < 500; i++) await Promise.all([overHttp(), direct()]);
  const [httpSamples, directSamples] = await interleaved(rounds(4000), overHttp, direct, rounds(500));
  const added = (percentile(httpSamples, 50) - percentile(directSamples, 50)) * 1000;
  const httpRate = await throughput(rounds(4000), 8, overHttp);
  const directRate = await throughput(rounds(4000), 8, direct);
  agent.destroy();
  await server.close();
  return [
    {
      name: "HTTP POST /v1/execute (isolate, loopback, keep-alive)",
      ours: summary(httpSamples, httpRate),
      baseline: summary(directSamples, directRate),
      baselineName: "router.execute() on the same router in the same process",
      target: `HTTP adds ≤ 1 ms p50 (measured ${added.toFixed(0)} µs)`,
      met: added <= 1000,
    },
  ];
}
