import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Router } from "coderouter";
import { createConnectionServer, type ConnectionOptions, type ConnectionServer } from "./server.js";

interface Connection extends ConnectionServer {
  transport: StreamableHTTPServerTransport;
  idle?: NodeJS.Timeout;
}

export interface McpHttpOptions extends ConnectionOptions {
  /** A connection with no request for this long is closed with its sessions (a client may vanish without DELETE). */
  idleTimeoutMs: number;
}

/**
 * MCP over streamable HTTP: one MCP session (and one workspace of router sessions) per client,
 * from its initialize request to its DELETE, its idle timeout, or the server's close.
 * The embedding HTTP server authenticates and guards the request before it reaches here.
 */
export class McpHttpEndpoint {
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  constructor(
    private readonly router: Router,
    private readonly options: McpHttpOptions,
  ) {}

  /** Answers one request on the MCP path; `body` is the parsed JSON of a POST. */
  async handle(req: IncomingMessage, res: ServerResponse, body?: unknown): Promise<void> {
    const header = req.headers["mcp-session-id"];
    const id = Array.isArray(header) ? header[0] : header;
    if (id) {
      const connection = this.connections.get(id);
      if (!connection) return rpcError(res, 404, -32001, "Session not found: it was closed or expired; initialize a new one");
      this.touch(id, connection);
      return connection.transport.handleRequest(req, res, body);
    }
    if (req.method !== "POST" || !isInitializeRequest(body)) {
      return rpcError(res, 400, -32000, "Bad Request: send an initialize request first, then the Mcp-Session-Id header it returns");
    }
    if (this.closed) return rpcError(res, 503, -32000, "the server is shutting down");
    const connection = this.open();
    await connection.server.connect(connection.transport);
    await connection.transport.handleRequest(req, res, body);
  }

  /** MCP sessions open now. */
  get size(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.connections.values()].map((c) => c.server.close()));
  }

  private open(): Connection {
    const { server, workspace } = createConnectionServer(this.router, this.options);
    const connection: Connection = {
      server,
      workspace,
      transport: new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        enableJsonResponse: true,
        onsessioninitialized: (id) => {
          this.connections.set(id, connection);
          this.touch(id, connection);
        },
      }),
    };
    connection.transport.onclose = () => {
      const id = connection.transport.sessionId;
      if (id) this.connections.delete(id);
      clearTimeout(connection.idle);
      void workspace.close();
    };
    return connection;
  }

  private touch(id: string, connection: Connection): void {
    clearTimeout(connection.idle);
    connection.idle = setTimeout(() => {
      if (this.connections.get(id) === connection) void connection.server.close();
    }, this.options.idleTimeoutMs);
    connection.idle.unref();
  }
}

function rpcError(res: ServerResponse, status: number, code: number, message: string): void {
  const body = JSON.stringify({ jsonrpc: "2.0", error: { code, message }, id: null });
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
  res.end(body);
}
