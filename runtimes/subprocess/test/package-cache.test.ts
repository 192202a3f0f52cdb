import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InfrastructureError, PackageInstallError } from "@coderouter/core";
import { LocalPackageIndex } from "../../../test/package-index/server.js";
import { environmentKey, normaliseSpecs, PackageCache } from "../src/package-cache.js";

let index: LocalPackageIndex;
const scratch = mkdtempSync(join(tmpdir(), "coderouter-package-cache-"));
const saved = { ...process.env };
/** The real interpreter behind python3 (a version manager's shim is a script, not an interpreter). */
const python = realpathSync(execFileSync("python3", ["-c", "import sys; print(sys.executable)"], { encoding: "utf8" }).trim());

beforeAll(async () => {
  index = await LocalPackageIndex.start();
  Object.assign(process.env, index.env(join(scratch, "installer-cache")));
});
afterAll(async () => {
  await index?.close();
  process.env = saved;
  rmSync(scratch, { recursive: true, force: true });
});

let caches = 0;
function cache(settings: { maxBytes?: number } = {}): { cache: PackageCache; dir: string } {
  const dir = join(scratch, `cache-${caches++}`);
  return { cache: new PackageCache({ dir, maxBytes: settings.maxBytes ?? 1024 ** 3, installTimeoutMs: 120_000, npm: "npm" }), dir };
}

const simpleRequests = (name: string) => index.requests.filter((path) => path === `/simple/${name}/`).length;

describe("the key of a package set", () => {
  it("is one for every spelling, order and repetition of a set", () => {
    expect(normaliseSpecs("python", ["Requests[Socks,security] >= 2, <3", "cr_Tiny==1.2.3", "crtiny == 1.2.3"])).toEqual([
      "cr-tiny==1.2.3",
      "crtiny==1.2.3",
      "requests[security,socks]<3,>=2",
    ]);
    expect(normaliseSpecs("python", ["B", "a==1"])).toEqual(normaliseSpecs("python", ["A == 1", "b", "B"]));
    expect(normaliseSpecs("javascript", ["lodash@^4", "cr-tiny@>=1  <3"])).toEqual(["cr-tiny@>=1 <3", "lodash@^4"]);
  });

  it("changes with the interpreter and the index, not with the installer's cache", () => {
    const key = environmentKey("python", ["crtiny"], "/usr/bin/python3.11");
    expect(environmentKey("python", ["crtiny"], "/usr/bin/python3.12")).not.toBe(key);
    expect(environmentKey("javascript", ["crtiny"], "/usr/bin/python3.11")).not.toBe(key);
    const url = process.env.PIP_INDEX_URL;
    const pipCache = process.env.PIP_CACHE_DIR;
    try {
      process.env.PIP_CACHE_DIR = "/elsewhere";
      expect(environmentKey("python", ["crtiny"], "/usr/bin/python3.11")).toBe(key);
      process.env.PIP_INDEX_URL = "http://127.0.0.1:1/simple";
      expect(environmentKey("python", ["crtiny"], "/usr/bin/python3.11")).not.toBe(key);
    } finally {
      process.env.PIP_INDEX_URL = url;
      process.env.PIP_CACHE_DIR = pipCache;
    }
  });
});

describe("the package cache", () => {
  it("installs a set once when concurrent requests ask for it first, and every one hears the installation", async () => {
    const { cache: packages, dir } = cache();
    const before = simpleRequests("crtiny");
    const heard = [[], [], []] as string[][];
    const leases = await Promise.all(heard.map((chunks) => packages.acquire("python", ["crtiny"], python, false, { onStdout: (c) => chunks.push(c) })));
    expect(simpleRequests("crtiny") - before).toBe(1);
    expect(new Set(leases.map((l) => l.dir)).size).toBe(1);
    expect(leases.every((l) => l.built)).toBe(true);
    for (const chunks of heard) expect(chunks.join("")).toContain("Successfully installed crtiny-1.2.3");
    expect(readdirSync(join(dir, "envs"))).toHaveLength(1);
    // Nothing is left where it was staged.
    expect(readdirSync(join(dir, "staging"))).toEqual([]);
    for (const lease of leases) lease.release();

    const again = await packages.acquire("python", ["CRTiny"], python, false);
    expect(again).toMatchObject({ dir: leases[0]!.dir, built: false, installed: { crtiny: "1.2.3" } });
    expect(simpleRequests("crtiny") - before).toBe(1);
    again.release();
  });

  it("seals an environment read-only, readable by the sandbox's uid", async () => {
    const { cache: packages } = cache();
    const lease = await packages.acquire("python", ["crtiny"], python, false);
    const module = join(lease.dir, "crtiny", "__init__.py");
    expect(statSync(module).mode & 0o777).toBe(0o444);
    expect(statSync(join(lease.dir, "crtiny")).mode & 0o777).toBe(0o555);
    expect(statSync(lease.dir).mode & 0o777).toBe(0o555);
    lease.release();
  });

  it("removes the environments used longest ago past its size cap, but never one in use", async () => {
    const { cache: packages, dir } = cache({ maxBytes: 1 });
    const old = await packages.acquire("python", ["crtiny"], python, false);
    old.release();
    const used = await packages.acquire("python", ["crtiny==1.2.3"], python, false);
    // Both are over the cap, yet each was used a moment ago (another process may hold it): both stay.
    expect(readdirSync(join(dir, "envs"))).toHaveLength(2);
    const minutesAgo = new Date(Date.now() - 5 * 60_000);
    utimesSync(old.dir, minutesAgo, minutesAgo);
    utimesSync(used.dir, minutesAgo, minutesAgo);
    const newest = await packages.acquire("python", ["crtiny>=1"], python, false);
    // `old` went (least recently used, released); `used` is still leased, and the newest was just made.
    expect(existsSync(old.dir)).toBe(false);
    expect(existsSync(used.dir)).toBe(true);
    expect(existsSync(newest.dir)).toBe(true);
    used.release();
    newest.release();
  });

  it("rebuilds over a folder that is not a finished environment, and sweeps stale staging left by a crash", async () => {
    const { cache: packages, dir } = cache();
    const key = environmentKey("python", ["crtiny"], python);
    mkdirSync(join(dir, "envs", key), { recursive: true, mode: 0o711 });
    writeFileSync(join(dir, "envs", key, "half-written"), "");
    const stale = join(dir, "staging", "coderouter-install-crashed");
    mkdirSync(stale, { recursive: true });
    const longAgo = new Date(Date.now() - 3600_000);
    utimesSync(stale, longAgo, longAgo);
    chmodSync(dir, 0o711);
    const lease = await packages.acquire("python", ["crtiny"], python, false);
    expect(lease.dir).toBe(join(dir, "envs", key));
    expect(readdirSync(lease.dir)).toContain("crtiny");
    expect(readdirSync(lease.dir)).not.toContain("half-written");
    expect(existsSync(stale)).toBe(false);
    lease.release();
  });

  it("installs an npm package without running its scripts", async () => {
    const { cache: packages } = cache();
    const lease = await packages.acquire("javascript", ["cr-tiny@^2"], process.execPath, false);
    expect(lease.installed).toEqual({ "cr-tiny": "2.0.1" });
    expect(readdirSync(join(lease.dir, "node_modules", "cr-tiny"))).toContain("index.js");
    expect(existsSync(index.postinstallMarker)).toBe(false);
    lease.release();
  });

  it("fails with a PackageInstallError naming the package, and leaves no environment behind", async () => {
    const { cache: packages, dir } = cache();
    const failure = await packages.acquire("python", ["no-such-package"], python, false).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PackageInstallError);
    expect((failure as PackageInstallError).message).toMatch(/could not install no-such-package: pip exited with code 1/);
    await expect(packages.acquire("python", ["--index-url=http://127.0.0.1:1/"], python, false)).rejects.toThrow(PackageInstallError);
    expect(readdirSync(join(dir, "envs"))).toEqual([]);
    expect(readdirSync(join(dir, "staging"))).toEqual([]);
  });

  it("stops an installation under way when closed, leaving no environment, no staging and no installer", async () => {
    const { cache: packages, dir } = cache();
    const pending = packages.acquire("python", ["crtiny"], python, false).catch((error: unknown) => error);
    // The staging folder appears just before pip starts.
    while (!existsSync(join(dir, "staging")) || readdirSync(join(dir, "staging")).length === 0) await new Promise((r) => setTimeout(r, 5));
    await packages.close();
    const failure = await pending;
    expect(failure).toBeInstanceOf(PackageInstallError);
    expect((failure as Error).message).toMatch(/could not install crtiny: the installation was cancelled/);
    expect(readdirSync(join(dir, "envs"))).toEqual([]);
    expect(readdirSync(join(dir, "staging"))).toEqual([]);
    expect(execFileSync("ps", ["-eo", "args"], { encoding: "utf8" })).not.toContain(join(dir, "staging"));
    await expect(packages.acquire("python", ["crtiny"], python, false)).rejects.toThrow(/the runtime was closed/);
  });

  it("refuses a cache folder other users can write to, and says when the sandbox cannot reach it", async () => {
    const open = join(scratch, "world-writable");
    mkdirSync(open, { mode: 0o777 });
    chmodSync(open, 0o777);
    const shared = new PackageCache({ dir: open, maxBytes: 1024, installTimeoutMs: 1000, npm: "npm" });
    await expect(shared.acquire("python", ["crtiny"], python, false)).rejects.toThrow(/only it can write/);

    const hidden = join(mkdtempSync(join(scratch, "private-")), "cache");
    const unreachable = new PackageCache({ dir: hidden, maxBytes: 1024, installTimeoutMs: 1000, npm: "npm" });
    const failure = await unreachable.acquire("python", ["crtiny"], python, true).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(InfrastructureError);
    expect((failure as Error).message).toMatch(/not reachable by the sandbox's uid.*SUBPROCESS_PACKAGE_CACHE/);
  });
});
