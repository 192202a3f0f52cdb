import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { createConnectionServer, type ConnectionServer } from "../src/index.js";

const router = createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess", "isolate"] } });
afterAll(() => router.close());

const clients: Client[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

async function connect(): Promise<{ client: Client; connection: ConnectionServer }> {
  const connection = createConnectionServer(router);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await connection.server.connect(serverSide);
  const client = new Client({ name: "test", version: "1.0.0" });
  await client.connect(clientSide);
  clients.push(client);
  return { client, connection };
}

type Answer = { success: boolean; output: any; stdout: string; stderr: string; error: { kind: string; name: string; message: string } | null };

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Answer & { isError: boolean; text: string }> {
  const result = await client.callTool({ name, arguments: args });
  const content = result.content as { type: string; text: string }[];
  const structured = result.structuredContent as Answer;
  // The text content carries the same object, for clients that read only text.
  expect(JSON.parse(content[0]!.text)).toEqual(structured);
  return { ...structured, isError: result.isError === true, text: content[0]!.text };
}

describe("the MCP tools", () => {
  it("lists every tool with a JSON schema of its arguments", async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(["execute_code", "get_environment", "install_package", "list_files", "read_file", "write_file"]);
    const execute = tools.find((t) => t.name === "execute_code")!;
    expect(execute.inputSchema.required).toEqual(["code"]);
    expect(Object.keys(execute.inputSchema.properties ?? {})).toEqual(expect.arrayContaining(["code", "language", "timeout", "runtime", "isolation"]));
    expect(execute.outputSchema?.properties).toHaveProperty("success");
  });

  it("answers 42 for 6 * 7 in Python and in JavaScript, with success, output and streams", async () => {
    const { client } = await connect();
    const python = await call(client, "execute_code", { code: "print('hi')\n6 * 7", language: "python" });
    expect(python).toMatchObject({ success: true, output: 42, stdout: "hi\n", stderr: "", error: null, isError: false });
    const js = await call(client, "execute_code", { code: "6 * 7", language: "javascript" });
    expect(js).toMatchObject({ success: true, output: 42, error: null });
  });

  it("runs a bash script once per call: exit status, inputs as variables, output from fd 3, no session", async () => {
    const { client, connection } = await connect();
    const first = await call(client, "execute_code", { code: 'echo "hi $who"; echo 42 >&3; touch left; exit 3', language: "bash", inputs: { who: "there" } });
    expect(first).toMatchObject({ success: false, stdout: "hi there\n", exitCode: 3, error: { name: "ExitStatus" }, isError: true });
    const second = await call(client, "execute_code", { code: "ls -A; echo 42 >&3", language: "bash" });
    expect(second).toMatchObject({ success: true, output: 42, stdout: "", exitCode: 0 });
    expect(second).not.toHaveProperty("sessionId");
    expect(await connection.workspace.sessionIds()).toEqual([]);
  });

  it("keeps state between calls in the connection's session for the language", async () => {
    const { client } = await connect();
    await call(client, "execute_code", { code: "total = 40" });
    expect((await call(client, "execute_code", { code: "total + 2" })).output).toBe(42);
  });

  it("reports a code failure with success false and the error, and a timeout given in seconds", async () => {
    const { client } = await connect();
    const failed = await call(client, "execute_code", { code: "1 / 0" });
    expect(failed).toMatchObject({ success: false, output: null, isError: true, error: { kind: "runtime", name: "ZeroDivisionError" } });
    const slow = await call(client, "execute_code", { code: "while True: pass", timeout: 0.5, runtime: "subprocess" });
    expect(slow).toMatchObject({ success: false, error: { kind: "timeout" } });
  });

  it("writes, lists and reads files of the session that execute_code uses", async () => {
    const { client } = await connect();
    expect((await call(client, "write_file", { path: "data/in.txt", content: "payload" })).success).toBe(true);
    expect((await call(client, "execute_code", { code: "open('data/in.txt').read().upper()" })).output).toBe("PAYLOAD");
    await call(client, "execute_code", { code: "open('data/out.bin', 'wb').write(bytes([0, 255]))" });
    const listed = await call(client, "list_files", { path: "data" });
    expect(listed.output.map((e: { name: string }) => e.name).sort()).toEqual(["in.txt", "out.bin"]);
    expect((await call(client, "read_file", { path: "data/in.txt" })).output).toMatchObject({ encoding: "utf8", content: "payload" });
    expect((await call(client, "read_file", { path: "data/out.bin" })).output).toMatchObject({ encoding: "base64", content: "AP8=" });
    const escaped = await call(client, "read_file", { path: "../../etc/passwd" });
    expect(escaped).toMatchObject({ success: false, error: { kind: "validation" } });
  });

  it("describes the environment of the session", async () => {
    const { client } = await connect();
    const env = await call(client, "get_environment", { language: "python" });
    expect(env.success).toBe(true);
    expect(env.output).toMatchObject({ language: "python", version: expect.stringMatching(/^3\./) });
  });

  it("answers a bad argument and an unknown runtime as tool errors, not crashes", async () => {
    const { client } = await connect();
    const unknown = await call(client, "execute_code", { code: "1", runtime: "nowhere" });
    expect(unknown).toMatchObject({ success: false, error: { kind: "validation" } });
    expect(unknown.error!.message).toContain("nowhere");
    const invalid = await client.callTool({ name: "execute_code", arguments: { code: 1 } });
    expect(invalid.isError).toBe(true);
  });

  it("gives two clients at the same time sessions of their own, closed when each client goes", async () => {
    const a = await connect();
    const b = await connect();
    await Promise.all([call(a.client, "execute_code", { code: "owner = 'a'" }), call(b.client, "execute_code", { code: "owner = 'b'" })]);
    const [fromA, fromB] = await Promise.all([call(a.client, "execute_code", { code: "owner" }), call(b.client, "execute_code", { code: "owner" })]);
    expect([fromA.output, fromB.output]).toEqual(["a", "b"]);
    await call(a.client, "write_file", { path: "mine.txt", content: "a" });
    expect((await call(b.client, "read_file", { path: "mine.txt" })).success).toBe(false);

    const idsA = await a.connection.workspace.sessionIds();
    expect(idsA).toHaveLength(1);
    await a.client.close();
    await expect.poll(() => router.sessions().some((s) => idsA.includes(s.id))).toBe(false);
    expect((await b.connection.workspace.sessionIds()).length).toBe(1);
  });
});
