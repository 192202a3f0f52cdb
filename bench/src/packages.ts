import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRouter, type ExecutionRequestInput } from "coderouter";
import { LocalPackageIndex } from "../../test/package-index/server.js";
import { interleaved, p50RatioRow } from "./measure.js";
import type { Row } from "./table.js";

/**
 * One-shot requests with `packages` on subprocess, once the set is cached: the second request with
 * the same set against the same request without packages. Python with packages always starts a
 * cold child (README, "One-shot requests with packages"), so it is measured both against what a
 * request without packages gets (the warm fork-server) and against a cold child, which shows the
 * cache's own cost (key, manifest, the read-only bind). Packages come from the tests' local index.
 */
export async function packageRows(rounds: (n: number) => number): Promise<Row[]> {
  const index = await LocalPackageIndex.start();
  const scratch = mkdtempSync(join(tmpdir(), "coderouter-bench-packages-"));
  chmodSync(scratch, 0o711);
  const saved = { ...process.env };
  Object.assign(process.env, index.env(scratch));
  const rows: Row[] = [];
  try {
    // A target only where both sides start a cold child: there the ratio is the cache's own cost.
    const cases: {
      name: string;
      language: "python" | "javascript";
      code: string;
      packages: string[];
      forkServers: number;
      baselineName: string;
      target?: number;
    }[] = [
      {
        name: "one-shot python with packages, set cached (2nd request)",
        language: "python",
        code: "import crtiny\ncrtiny.ANSWER",
        packages: ["crtiny==1.2.3"],
        forkServers: 2,
        baselineName: "the same request without packages (warm fork-server)",
      },
      {
        name: "one-shot python with packages, set cached, vs a cold child",
        language: "python",
        code: "import crtiny\ncrtiny.ANSWER",
        packages: ["crtiny==1.2.3"],
        forkServers: 0,
        baselineName: "the same request without packages, cold child (SUBPROCESS_FORK_SERVERS=0)",
        target: 1.2,
      },
      {
        name: "one-shot javascript with packages, set cached (2nd request)",
        language: "javascript",
        code: "require('cr-tiny').answer",
        packages: ["cr-tiny@2.0.1"],
        forkServers: 2,
        baselineName: "the same request without packages (a cold child too: node has no fork-server)",
        target: 1.2,
      },
    ];
    for (const c of cases) {
      const router = createRouter({
        env: {},
        settings: { enabledRuntimes: ["subprocess"] },
        runtimeSettings: { subprocess: { forkServers: c.forkServers, packageCache: join(scratch, "cache") } },
      });
      const withPackages: ExecutionRequestInput = { language: c.language, code: c.code, packages: c.packages };
      // Without the package the code cannot import it: the baseline runs the same code minus the import.
      const without: ExecutionRequestInput = { language: c.language, code: "42" };
      const check = async (request: ExecutionRequestInput) => {
        const result = await router.execute(request);
        if (result.output !== 42) throw new Error(`bench request failed: ${JSON.stringify(result.error ?? result.output)}`);
      };
      // The first request installs the set; warm-up lets the fork-servers start.
      await check(withPackages);
      for (let i = 0; i < 10; i++) {
        await check(withPackages);
        await check(without);
      }
      const [ours, baseline] = await interleaved(
        rounds(200),
        () => check(withPackages),
        () => check(without),
      );
      rows.push(
        p50RatioRow(c, ours, baseline, (ratio) => ({
          target: c.target
            ? `≤ ${c.target}× p50 (measured ${ratio.toFixed(2)}×)`
            : `reported: a cold child against a warm fork (measured ${ratio.toFixed(2)}× p50)`,
          met: c.target ? ratio <= c.target : true,
        })),
      );
      await router.close();
    }
  } finally {
    process.env = saved;
    await index.close();
    // The environments are sealed read-only: writable again first, for a user who is not root.
    execFileSync("chmod", ["-R", "u+w", scratch]);
    rmSync(scratch, { recursive: true, force: true });
  }
  return rows;
}
