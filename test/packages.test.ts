import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter, PackageInstallError, ValidationError, type Router } from "coderouter";
import { createConnectionServer } from "@coderouter/mcp";
import { LocalPackageIndex } from "./package-index/server.js";

/** The installed `coderouter` command. */
const CLI = fileURLToPath(new URL("../node_modules/.bin/coderouter", import.meta.url));

let index: LocalPackageIndex;
let router: Router;
const cache = mkdtempSync(join(tmpdir(), "coderouter-installer-cache-"));
// The sandbox's uid binds an environment by its path: it must be able to traverse to it.
chmodSync(cache, 0o711);
/** The cache of one-shot requests' environments. */
const environments = join(cache, "environments");
const saved = { ...process.env };

beforeAll(async () => {
  index = await LocalPackageIndex.start();
  // The installers read these from the host's environment, as they would PIP_INDEX_URL in production.
  Object.assign(process.env, index.env(cache));
  router = createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess"] }, runtimeSettings: { subprocess: { packageCache: environments } } });
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

describe("one-shot requests with packages, on subprocess", () => {
  const envs = () => readdirSync(join(environments, "envs"));
  const sandboxed = async () => (await router.runtimes()).find((r) => r.id === "subprocess")?.capabilities?.isolation === "sandbox";

  it("installs the set on the first request, and nothing on the second with the same set in another spelling", async () => {
    const streamed: string[] = [];
    const first = await router.execute({
      language: "python",
      code: "import crtiny\ncrtiny.greet('ada')",
      packages: ["crtiny==1.2.3"],
      onStderr: (chunk) => streamed.push(chunk),
    });
    expect(first).toMatchObject({ ok: true, runtime: "subprocess", output: "hello ada" });
    // The installation streamed to the request's stderr; the result's own stderr stays the code's.
    expect(streamed.join("")).toContain("Successfully installed crtiny-1.2.3");
    expect(first.stderr).toBe("");
    expect(envs()).toHaveLength(1);
    const environment = statSync(join(environments, "envs", envs()[0]!));

    const asked = index.requests.length;
    const quiet: string[] = [];
    const second = await router.execute({
      language: "python",
      code: "import crtiny\ncrtiny.ANSWER",
      packages: ["CRTiny == 1.2.3", "crtiny==1.2.3"],
      onStderr: (chunk) => quiet.push(chunk),
    });
    expect(second.output).toBe(42);
    // No installer ran: the index was not asked, nothing streamed, the same environment served it.
    expect(index.requests.length).toBe(asked);
    expect(quiet).toEqual([]);
    expect(envs()).toHaveLength(1);
    expect(statSync(join(environments, "envs", envs()[0]!)).ino).toBe(environment.ino);
    expect(second.metadata.routing.candidates[0]?.reason).toBe("eligible; installs CRTiny == 1.2.3, crtiny==1.2.3 before the run");
  });

  it("gives a different set an environment of its own", async () => {
    const before = new Set(envs());
    const result = await router.execute({ language: "python", code: "import crtiny\ncrtiny.ANSWER", packages: ["crtiny>=1"] });
    expect(result.output).toBe(42);
    expect(envs().filter((key) => !before.has(key))).toHaveLength(1);
  });

  it("runs JavaScript and TypeScript with the set's node_modules on their require path", async () => {
    const javascript = await router.execute({ language: "javascript", code: "require('cr-tiny').greet('ada')", packages: ["cr-tiny@^2"] });
    expect(javascript).toMatchObject({ ok: true, output: "hello ada" });
    const asked = index.requests.length;
    const typescript = await router.execute({
      language: "typescript",
      code: "const tiny: { answer: number } = require('cr-tiny')\ntiny.answer",
      packages: ["cr-tiny@^2"],
    });
    expect(typescript).toMatchObject({ ok: true, output: 42 });
    expect(index.requests.length).toBe(asked);
  });

  it("keeps the environment read-only to the code, and Python's isolated mode otherwise", async () => {
    const code = [
      "import crtiny, os, sys",
      "try:",
      "    open(crtiny.__file__, 'a').write('tampered')",
      "    wrote = True",
      "except OSError:",
      "    wrote = False",
      "wrote, sys.flags.isolated, sys.flags.no_user_site, '' in sys.path or os.getcwd() in sys.path",
    ].join("\n");
    const result = await router.execute({ language: "python", code, packages: ["crtiny==1.2.3"], isolation: "process" });
    expect(result.output).toEqual([false, 1, 1, false]);
  });

  it("lets sandboxed code import from its environment but not write it or see any other", async () => {
    if (!(await sandboxed())) return;
    const code = [
      "import crtiny, os",
      "try:",
      "    open(crtiny.__file__, 'a').write('tampered')",
      "    wrote = True",
      "except OSError:",
      "    wrote = False",
      "crtiny.__file__, crtiny.ANSWER, wrote, sorted(n for n in os.listdir(os.path.dirname(os.path.dirname(crtiny.__file__))) if not n.startswith('.')), os.path.exists(ENVIRONMENTS)",
    ].join("\n");
    const result = await router.execute({ language: "python", code, inputs: { ENVIRONMENTS: environments }, packages: ["crtiny"], isolation: "sandbox" });
    expect(result.output).toEqual(["/coderouter-packages/crtiny/__init__.py", 42, false, ["crtiny", "crtiny-1.2.3.dist-info"], false]);
    const javascript = await router.execute({
      language: "javascript",
      code: "const fs = require('fs'); const file = require.resolve('cr-tiny'); let wrote = true; try { fs.appendFileSync(file, 'x') } catch { wrote = false }; [file, require('cr-tiny').answer, wrote]",
      packages: ["cr-tiny@^2"],
      isolation: "sandbox",
    });
    expect(javascript.output).toEqual(["/coderouter-packages/node_modules/cr-tiny/index.js", 42, false]);
  });

  // A tenant poisoning the set for the next one: a .pth or byte code beside the package runs on
  // every later import; renaming or replacing the package swaps its code. Each must fail.
  it("gives sandboxed code no way to poison its environment for the next request with the set", async () => {
    if (!(await sandboxed())) return;
    const code = [
      "import crtiny, os, shutil",
      "env = os.path.dirname(os.path.dirname(crtiny.__file__))",
      "pkg = os.path.dirname(crtiny.__file__)",
      "attempts = {",
      "    'pth': lambda: open(os.path.join(env, 'zz.pth'), 'w').write('import os; os.environ[\"POISON\"] = \"1\"'),",
      "    'pycache': lambda: os.makedirs(os.path.join(pkg, '__pycache__', 'x')),",
      "    'chmod': lambda: os.chmod(crtiny.__file__, 0o777),",
      "    'rename': lambda: os.rename(pkg, os.path.join(env, 'moved')),",
      "    'symlink': lambda: os.symlink('/tmp/evil', os.path.join(env, 'evil')),",
      "    'replace': lambda: (open('/tmp/evil.py', 'w').write('ANSWER = 0'), shutil.move('/tmp/evil.py', crtiny.__file__)),",
      "    'utime': lambda: os.utime(crtiny.__file__, (0, 0)),",
      "}",
      "failed = []",
      "for name, attempt in attempts.items():",
      "    try:",
      "        attempt()",
      "    except OSError:",
      "        failed.append(name)",
      "failed",
    ].join("\n");
    const attack = await router.execute({ language: "python", code, packages: ["crtiny==1.2.3"], isolation: "sandbox" });
    expect(attack.output).toEqual(["pth", "pycache", "chmod", "rename", "symlink", "replace", "utime"]);
    const next = await router.execute({
      language: "python",
      code: "import crtiny, os\ncrtiny.ANSWER, 'POISON' in os.environ, sorted(os.listdir('/coderouter-packages'))",
      packages: ["crtiny==1.2.3"],
      isolation: "sandbox",
    });
    expect(next.output).toEqual([42, false, [".coderouter-environment.json", "crtiny", "crtiny-1.2.3.dist-info"]]);
  });

  it("fails with a PackageInstallError naming a package the index does not have", async () => {
    const failure = await router.execute({ language: "python", code: "1", packages: ["crtiny", "no-such-package"] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(PackageInstallError);
    expect((failure as PackageInstallError).packages).toEqual(["crtiny", "no-such-package"]);
    expect((failure as PackageInstallError).message).toMatch(/no-such-package/);
    // A spec is a registry name: the schema refuses a URL, the installer's check an archive or a path.
    await expect(router.execute({ language: "python", code: "1", packages: ["crtiny @ http://127.0.0.1:1/x.whl"] })).rejects.toThrow(ValidationError);
    await expect(router.execute({ language: "python", code: "1", packages: ["crtiny-1.2.3-py3-none-any.whl"] })).rejects.toThrow(PackageInstallError);
    await expect(router.execute({ language: "javascript", code: "1", packages: ["user/repo"] })).rejects.toThrow(PackageInstallError);
  });

  it("works from the CLI with --package", async () => {
    const fresh = join(cache, "cli-environments");
    const env = { ...process.env, SUBPROCESS_PACKAGE_CACHE: fresh };
    const run = (args: string[]) =>
      promisify(execFile)(process.execPath, [CLI, "run", "-", "--language", "python", "--package", "crtiny==1.2.3", ...args], { env });
    const child = run([]);
    child.child.stdin?.end("import crtiny\ncrtiny.greet('cli')");
    const { stdout, stderr } = await child;
    expect(stdout).toContain("hello cli");
    expect(stderr).toContain("Successfully installed crtiny-1.2.3");
    const json = run(["--json"]);
    json.child.stdin?.end("import crtiny\ncrtiny.ANSWER");
    expect(JSON.parse((await json).stdout)).toMatchObject({ ok: true, runtime: "subprocess", output: 42 });
    expect(readdirSync(join(fresh, "envs"))).toHaveLength(1);
  });
});
