import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * A package index on loopback, so installation tests never reach a public registry: a PEP 503
 * simple index (`/simple/<name>/`, links with #sha256=) for pip, and npm registry documents
 * (`/npm/<name>`, dist.tarball with its integrity) for npm, over packages build.py makes.
 */
export class LocalPackageIndex {
  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    readonly url: string,
    /** Every path asked for, to show what the installers fetched. */
    readonly requests: string[],
    /** The file the npm package's postinstall script would create, had it run. */
    readonly postinstallMarker: string,
  ) {}

  static async start(): Promise<LocalPackageIndex> {
    const dir = mkdtempSync(join(tmpdir(), "coderouter-index-"));
    const marker = join(dir, "postinstall-ran");
    execFileSync("python3", [fileURLToPath(new URL("./build.py", import.meta.url)), join(dir, "files"), marker]);
    const files = readdirSync(join(dir, "files"));
    const requests: string[] = [];
    let base = "";
    const server = createServer((req, res) => {
      const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
      requests.push(path);
      const simple = path.match(/^\/simple\/([^/]+)\/?$/);
      if (simple) {
        const project = simple[1]!.toLowerCase().replace(/[-_.]+/g, "-");
        const wheels = files.filter(
          (f) =>
            f.endsWith(".whl") &&
            f
              .split("-")[0]!
              .toLowerCase()
              .replace(/[-_.]+/g, "-") === project,
        );
        if (!wheels.length) return void res.writeHead(404).end("not found");
        const links = wheels.map((f) => `<a href="/files/${f}#sha256=${sha(dir, f, "sha256", "hex")}">${f}</a>`).join("<br/>\n");
        res.writeHead(200, { "content-type": "text/html" });
        return void res.end(`<!DOCTYPE html><html><body>\n${links}\n</body></html>`);
      }
      const npm = path.match(/^\/npm\/((?:@[^/]+\/)?[^/@]+)$/);
      if (npm) {
        const tarballs = files.filter((f) => f.endsWith(".tgz") && f.slice(0, f.lastIndexOf("-")) === npm[1]);
        if (!tarballs.length) return void res.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}');
        const versions = Object.fromEntries(
          tarballs.map((f) => {
            const version = f.slice(f.lastIndexOf("-") + 1, -".tgz".length);
            const manifest = { name: npm[1], version, main: "index.js", scripts: { postinstall: `node -e "require('fs').writeFileSync('${marker}', '')"` } };
            return [
              version,
              {
                ...manifest,
                dist: { tarball: `${base}/files/${f}`, shasum: sha(dir, f, "sha1", "hex"), integrity: `sha512-${sha(dir, f, "sha512", "base64")}` },
              },
            ];
          }),
        );
        const latest = Object.keys(versions).sort().pop()!;
        res.writeHead(200, { "content-type": "application/json" });
        return void res.end(JSON.stringify({ name: npm[1], "dist-tags": { latest }, versions }));
      }
      const file = path.match(/^\/files\/([^/]+)$/);
      if (file && files.includes(file[1]!)) {
        res.writeHead(200, { "content-type": "application/octet-stream" });
        return void res.end(readFileSync(join(dir, "files", file[1]!)));
      }
      res.writeHead(404).end("not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return new LocalPackageIndex(server, dir, base, requests, marker);
  }

  /** The variables that point pip and npm here, and keep their caches out of the user's. */
  env(cacheDir: string): Record<string, string> {
    return {
      PIP_INDEX_URL: `${this.url}/simple`,
      PIP_CACHE_DIR: join(cacheDir, "pip"),
      npm_config_registry: `${this.url}/npm/`,
      npm_config_cache: join(cacheDir, "npm"),
    };
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function sha(dir: string, file: string, algorithm: string, encoding: "hex" | "base64"): string {
  return createHash(algorithm)
    .update(readFileSync(join(dir, "files", file)))
    .digest(encoding);
}
