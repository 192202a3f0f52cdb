import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readSettings } from "@coderouter/core";
import { E2B_ENV, E2BSettingsSchema } from "../src/index.js";
import { sandboxClass, type Sandbox } from "../src/sdk.js";
import { LocalE2B } from "./local.js";

// envd's files as the real SDK meets them on the local server, each answer as packages/envd gives it.

const server = new LocalE2B({ contextDelayMs: 100 });
let sandbox: Sandbox;
beforeAll(async () => {
  await server.start();
  const Sandbox = await sandboxClass(readSettings(E2BSettingsSchema, E2B_ENV, server.env()));
  sandbox = await Sandbox.create("base", { timeoutMs: 60_000 });
});
afterAll(async () => {
  await sandbox?.kill();
  await server.close();
});

describe("envd's files on the local E2B", () => {
  it("writes and reads back, relative paths in the user's home, entries with absolute paths", async () => {
    const written = await sandbox.files.write("notes/a.txt", "hello");
    expect(written).toMatchObject({ path: "/home/user/notes/a.txt", name: "a.txt", type: "file" });
    expect(await sandbox.files.read("/home/user/notes/a.txt")).toBe("hello");
    const entries = await sandbox.files.list("/home/user/notes");
    expect(entries.map((e) => [e.name, e.path, e.type, e.size])).toEqual([["a.txt", "/home/user/notes/a.txt", "file", 5]]);
    expect(entries[0]!.permissions).toBe("-rw-r--r--");
  });

  it("makes directories with their parents, and says when one exists", async () => {
    expect(await sandbox.files.makeDir("/workspace/deep/er")).toBe(true);
    expect(await sandbox.files.makeDir("/workspace/deep/er")).toBe(false);
    expect((await sandbox.files.getInfo("/workspace/deep")).type).toBe("dir");
    // depth 2 walks one level further, as envd's ListDir does.
    expect((await sandbox.files.list("/workspace", { depth: 2 })).map((e) => e.path)).toEqual(["/workspace/deep", "/workspace/deep/er"]);
  });

  it("answers a missing file with not found, a file listed as a directory with invalid argument, and removes a missing path quietly", async () => {
    await expect(sandbox.files.read("/workspace/none.txt")).rejects.toMatchObject({ name: "FileNotFoundError" });
    await expect(sandbox.files.list("/workspace/none")).rejects.toMatchObject({ name: "FileNotFoundError" });
    await sandbox.files.write("/workspace/f.txt", "x");
    await expect(sandbox.files.list("/workspace/f.txt")).rejects.toMatchObject({ name: "InvalidArgumentError" });
    await expect(sandbox.files.remove("/workspace/never-there")).resolves.toBeUndefined();
    expect(await sandbox.files.exists("/workspace/never-there")).toBe(false);
  });

  it("refuses to write over a directory, and to read one", async () => {
    await expect(sandbox.files.write("/workspace/deep", "x")).rejects.toThrow(/is a directory/);
    await expect(sandbox.files.read("/workspace/deep")).rejects.toThrow(/is a directory/);
  });

  it("takes a streamed upload as it arrives, and streams a download", async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 3, 0x5a);
    await sandbox.files.write("/workspace/big.bin", new Blob([big]).stream());
    const chunks: Uint8Array[] = [];
    for await (const chunk of await sandbox.files.read("/workspace/big.bin", { format: "stream" })) chunks.push(chunk);
    expect(Buffer.concat(chunks).equals(big)).toBe(true);
  });

  it("keeps a sandbox's files its own: another sandbox does not see them", async () => {
    const Sandbox = await sandboxClass(readSettings(E2BSettingsSchema, E2B_ENV, server.env()));
    const other = await Sandbox.create("base", { timeoutMs: 60_000 });
    try {
      expect(await other.files.exists("/workspace/f.txt")).toBe(false);
    } finally {
      await other.kill();
    }
  });
});
