import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter, PackageInstallError, type Router } from "coderouter";
import { createConnectionServer } from "@coderouter/mcp";
import { LocalPackageIndex } from "./package-index/server.js";

let index: LocalPackageIndex;
let router: Router;
const cache = mkdtempSync(join(tmpdir(), "coderouter-installer-cache-"));
const saved = { ...process.env };

beforeAll(async () => {
  index = await LocalPackageIndex.start();
  // The installers read these from the host's environment, as they would PIP_INDEX_URL in production.
  Object.assign(process.env, index.env(cache));
  router = createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess"] } });
});
afterAll(async () => {
  await router?.close();
  await index?.close();
  process.env = saved;
  rmSync(cache, { recursive: true, force: true });
});

describe("installing packages into a session, from a local index", () => {
  it("pip installs a wheel into a Python session, which then imports it", async () => {
    const session = await router.openSession({ language: "python" });
    expect((await session.execute("import crtiny")).error?.name).toBe("ModuleNotFoundError");
    const streamed: string[] = [];
    const outcome = await session.installPackages(["crtiny==1.2.3"], { onStdout: (chunk) => streamed.push(chunk) });
    expect(outcome.installed).toEqual({ crtiny: "1.2.3" });
    expect(streamed.join("")).toContain("Successfully installed crtiny-1.2.3");
    const result = await session.execute("import crtiny\ncrtiny.ANSWER, crtiny.greet('ada')");
    expect(result.output).toEqual([42, "hello ada"]);
    const environment = await session.environment();
    expect(environment.packages).toContain("crtiny==1.2.3");
    expect(index.requests).toContain("/simple/crtiny/");
    await session.close();
  });

  it("npm installs a tarball into a JavaScript session's node_modules, without running its scripts", async () => {
    const session = await router.openSession({ language: "javascript", runtime: "subprocess" });
    const outcome = await session.installPackages(["cr-tiny@^2"]);
    expect(outcome.installed).toEqual({ "cr-tiny": "2.0.1" });
    const result = await session.execute("const tiny = require('cr-tiny'); [tiny.answer, tiny.greet('ada')]");
    expect(result.output).toEqual([42, "hello ada"]);
    expect((await session.files.list("node_modules")).map((e) => e.name)).toContain("cr-tiny");
    expect((await session.environment()).packages).toContain("cr-tiny@2.0.1");
    // The package's postinstall would have written this file had any script run on the host.
    expect(existsSync(index.postinstallMarker)).toBe(false);
    await session.close();
  });

  it("uses a package whose postinstall really runs when scripts are allowed (so the check above means something)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "coderouter-npm-control-"));
    try {
      // Asynchronously: the index answering npm lives in this process.
      await promisify(execFile)("npm", ["install", "--prefix", dir, "--no-audit", "--no-fund", "cr-tiny"], { env: { ...process.env } });
      expect(existsSync(index.postinstallMarker)).toBe(true);
    } finally {
      rmSync(index.postinstallMarker, { force: true });
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("installs into a sandboxed session's /workspace through its files channel", async () => {
    const session = await router.openSession({ language: "python", isolation: "sandbox" }).catch(() => undefined);
    if (!session) return expect((await router.runtimes()).find((r) => r.id === "subprocess")?.capabilities?.isolation).not.toBe("sandbox");
    await session.installPackages(["crtiny"]);
    const result = await session.execute("import crtiny, os\ncrtiny.__file__, crtiny.ANSWER");
    expect(result.output).toEqual(["/workspace/.coderouter/python/crtiny/__init__.py", 42]);
    await session.close();
  });

  it("fails with an error naming the package when the index has no such package", async () => {
    const session = await router.openSession({ language: "python" });
    const failure = await session.installPackages(["no-such-package"]).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PackageInstallError);
    expect((failure as PackageInstallError).message).toMatch(/could not install no-such-package: pip exited with code 1/);
    expect((failure as PackageInstallError).output.stderr).toContain("no-such-package");
    await session.close();
  });

  it("never lets a spec become an option, a path, a URL or a repository", async () => {
    const python = await router.openSession({ language: "python" });
    const javascript = await router.openSession({ language: "javascript", runtime: "subprocess" });
    for (const spec of ["--index-url=http://127.0.0.1:1/", "-e .", "../x", "/etc/passwd"]) {
      await expect(python.installPackages([spec])).rejects.toThrow(/invalid packages/);
    }
    for (const spec of ["crtiny-1.2.3-py3-none-any.whl", "dir/pkg", "crtiny @ http"]) {
      await expect(python.installPackages([spec])).rejects.toThrow(PackageInstallError);
    }
    for (const spec of ["user/repo", "cr-tiny.tgz", "cr-tiny@github/x"]) {
      await expect(javascript.installPackages([spec])).rejects.toThrow(PackageInstallError);
    }
    await Promise.all([python.close(), javascript.close()]);
  });
});

describe("install_package over MCP", () => {
  it("installs then imports, in Python and in JavaScript", async () => {
    const { server } = createConnectionServer(router);
    const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
    await server.connect(serverSide);
    const client = new Client({ name: "packages-test", version: "1.0.0" });
    await client.connect(clientSide);
    const call = async (name: string, args: Record<string, unknown>) => (await client.callTool({ name, arguments: args })).structuredContent as any;
    expect(await call("install_package", { package: "crtiny", language: "python" })).toMatchObject({ success: true, output: { crtiny: "1.2.3" } });
    expect((await call("execute_code", { code: "import crtiny\ncrtiny.ANSWER" })).output).toBe(42);
    expect(await call("install_package", { package: "cr-tiny", language: "javascript", runtime: "subprocess" })).toMatchObject({ success: true });
    expect((await call("execute_code", { code: "require('cr-tiny').answer", language: "javascript", runtime: "subprocess" })).output).toBe(42);
    const failed = await call("install_package", { package: "nothing-here", language: "python" });
    expect(failed).toMatchObject({ success: false, error: { kind: "package_install" } });
    expect(failed.error.message).toContain("nothing-here");
    await client.close();
  });
});
