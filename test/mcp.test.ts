import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRouter } from "coderouter";
import { startServer, type RunningServer } from "@coderouter/server";

/** The installed `coderouter` command, as an MCP client configuration starts it. */
const BIN = fileURLToPath(new URL("../node_modules/.bin/coderouter", import.meta.url));
const TOOLS = ["execute_code", "get_environment", "install_package", "list_files", "read_file", "write_file"];

type Answer = { success: boolean; output: any; stdout: string; stderr: string; error: unknown };
const call = async (client: Client, name: string, args: Record<string, unknown>) =>
  (await client.callTool({ name, arguments: args })).structuredContent as Answer;

describe("coderouter mcp (stdio)", () => {
  it("lists and calls every tool, gets 42 from 6 * 7, and ends when the client goes", async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [BIN, "mcp"],
      env: { PATH: process.env.PATH ?? "", CODEROUTER_RUNTIMES: "subprocess,isolate" },
      stderr: "pipe",
    });
    const client = new Client({ name: "stdio-test", version: "1.0.0" });
    await client.connect(transport);
    const pid = transport.pid!;
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(TOOLS);
    expect(await call(client, "execute_code", { code: "6 * 7", language: "python" })).toMatchObject({ success: true, output: 42 });
    expect(await call(client, "execute_code", { code: "6 * 7", language: "javascript" })).toMatchObject({ success: true, output: 42 });
    expect(await call(client, "write_file", { path: "a.txt", content: "x" })).toMatchObject({ success: true });
    expect((await call(client, "list_files", {})).output).toEqual([expect.objectContaining({ name: "a.txt" })]);
    expect((await call(client, "read_file", { path: "a.txt" })).output).toMatchObject({ content: "x" });
    expect((await call(client, "get_environment", {})).output).toMatchObject({ language: "python" });
    expect(await call(client, "install_package", { package: "--index-url=http://evil" })).toMatchObject({ success: false, error: { kind: "validation" } });
    await client.close();
    // The server process ends by itself once its stdin is closed.
    await expect.poll(() => alive(pid), { timeout: 10_000 }).toBe(false);
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("MCP over streamable HTTP at /mcp", () => {
  let server: RunningServer;
  const token = "mcp-test-token";
  beforeAll(async () => {
    server = await startServer(
      createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess", "isolate"] } }),
      { port: 0, token, defaultIsolation: "process" },
      {},
    );
  });
  afterAll(() => server.close());

  const connect = async (headers: Record<string, string> = { authorization: `Bearer ${token}` }) => {
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } });
    const client = new Client({ name: "http-test", version: "1.0.0" });
    await client.connect(transport);
    return { client, transport };
  };

  it("refuses a client without the API token, like every other route", async () => {
    await expect(connect({})).rejects.toThrow(/401|unauthorized/i);
  });

  it("lists and calls every tool and gets 42 from 6 * 7", async () => {
    const { client, transport } = await connect();
    expect((await client.listTools()).tools.map((t) => t.name).sort()).toEqual(TOOLS);
    expect(await call(client, "execute_code", { code: "6 * 7" })).toMatchObject({ success: true, output: 42, error: null });
    expect(await call(client, "write_file", { path: "n.txt", content: "42" })).toMatchObject({ success: true });
    expect((await call(client, "execute_code", { code: "int(open('n.txt').read()) + 0" })).output).toBe(42);
    expect((await call(client, "get_environment", { language: "javascript", runtime: "subprocess" })).output).toMatchObject({ language: "javascript" });
    // Sessions opened over MCP get the server's default isolation, as every other HTTP session does.
    expect((await call(client, "get_environment", {})).output.limits).toMatchObject({ isolation: "process" });
    await transport.terminateSession();
    await client.close();
  });

  it("serves two clients at the same time with no shared state, and closes a client's sessions on DELETE", async () => {
    const a = await connect();
    const b = await connect();
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    await Promise.all([call(a.client, "execute_code", { code: "who = 'a'" }), call(b.client, "execute_code", { code: "who = 'b'" })]);
    const [fromA, fromB] = await Promise.all([call(a.client, "execute_code", { code: "who" }), call(b.client, "execute_code", { code: "who" })]);
    expect([fromA.output, fromB.output]).toEqual(["a", "b"]);

    const openSessions = async () =>
      ((await fetch(`${server.url}/v1/sessions`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.json())) as { sessions: unknown[] }).sessions
        .length;
    expect(await openSessions()).toBe(2);
    await a.transport.terminateSession();
    await a.client.close();
    await expect.poll(openSessions).toBe(1);
    expect((await call(b.client, "execute_code", { code: "who" })).output).toBe("b");
    await b.transport.terminateSession();
    await b.client.close();
  });

  it("answers an unknown MCP session with 404 so the client starts again", async () => {
    const response = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        accept: "application/json, text/event-stream",
        "mcp-session-id": "nope",
      },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(response.status).toBe(404);
  });
});

describe("MCP executions and the server's concurrency limit", () => {
  it("count against CODEROUTER_CONCURRENCY: past the limit and the queue a call is refused as busy", async () => {
    const server = await startServer(
      createRouter({ env: {}, settings: { enabledRuntimes: ["subprocess", "isolate"] } }),
      { port: 0, concurrency: 1, queue: 0 },
      {},
    );
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`));
    const client = new Client({ name: "busy-test", version: "1.0.0" });
    try {
      await client.connect(transport);
      const slow = call(client, "execute_code", { code: "import time\ntime.sleep(3)\n'slow'" });
      // Once the slow call holds the one place, as the server's own metrics say.
      await expect.poll(async () => (await (await fetch(`${server.url}/metrics`)).text()).match(/^coderouter_requests_in_flight (\d+)/m)?.[1]).toBe("1");
      const refused = await call(client, "execute_code", { code: "6 * 7", language: "javascript" });
      expect(refused).toMatchObject({ success: false, error: { kind: "busy" } });
      expect((await slow).output).toBe("slow");
      expect(await call(client, "execute_code", { code: "6 * 7", language: "javascript" })).toMatchObject({ success: true, output: 42 });
    } finally {
      await transport.terminateSession().catch(() => {});
      await client.close();
      await server.close();
    }
  });
});
