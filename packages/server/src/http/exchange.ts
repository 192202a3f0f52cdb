import type { IncomingMessage, ServerResponse } from "node:http";
import type { z } from "zod";
import type { Metrics } from "../metrics.js";
import { badRequest, HttpError } from "./error.js";
import { requireJson } from "./guard.js";

/**
 * One request and its response, with the plumbing every route needs: bounded bodies, JSON parsed
 * and validated by a schema, answers counted in the metrics.
 */
export class Exchange {
  readonly url: URL;
  /** "METHOD /path", what the exact-match routes switch on. */
  readonly route: string;

  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    private readonly metrics: Metrics,
    private readonly bodyLimitBytes: number,
  ) {
    // A request target such as "//x" is no URL; it is answered as "/" (no route, 404) rather than throwing here.
    const target = req.url ?? "/";
    this.url = new URL(URL.canParse(target, "http://localhost") ? target : "/", "http://localhost");
    this.route = `${req.method} ${this.url.pathname}`;
  }

  send(status: number, body: object | string, headers: Record<string, string> = {}): void {
    this.metrics.recordResponse(status);
    const text = typeof body === "string" ? body : JSON.stringify(body);
    this.res.writeHead(status, {
      "content-type": typeof body === "string" ? "text/plain; version=0.0.4" : "application/json",
      "content-length": Buffer.byteLength(text),
      ...headers,
    });
    this.res.end(text);
  }

  sendBytes(data: Buffer): void {
    this.metrics.recordResponse(200);
    this.res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
    this.res.end(data);
  }

  /** Starts a streamed 200 answer (NDJSON), counted once. */
  startStream(contentType: string): void {
    this.res.writeHead(200, { "content-type": contentType });
    this.metrics.recordResponse(200);
  }

  async readBody(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of this.req) {
      size += (chunk as Buffer).length;
      if (size > this.bodyLimitBytes) {
        throw new HttpError(413, {
          error: { kind: "too_large", message: `the body is larger than ${this.bodyLimitBytes} bytes (CODEROUTER_BODY_LIMIT_BYTES)` },
        });
      }
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks);
  }

  async readJson(): Promise<unknown> {
    requireJson(this.req);
    const body = await this.readBody();
    try {
      return JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw badRequest(`the body is not JSON: ${(error as Error).message}`);
    }
  }

  /** The JSON body checked against a schema; a mismatch is a 400 naming each field. */
  async readBodyAs<S extends z.ZodType>(schema: S, what: string): Promise<z.output<S>> {
    return parseBody(schema, await this.readJson(), what);
  }
}

/** A body checked against a schema; a mismatch is a 400 naming each field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join(".") || "(body)", message: i.message }));
  throw badRequest(`invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}`, issues);
}

export const isJsonObject = (body: unknown): body is Record<string, unknown> => typeof body === "object" && body !== null && !Array.isArray(body);
