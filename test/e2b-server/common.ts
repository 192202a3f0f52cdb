import type { IncomingMessage, ServerResponse } from "node:http";
import type { SandboxFilesystem } from "./filesystem.js";

/** Faults a test injects to see what the client does when the service misbehaves. */
export interface Faults {
  /** Answer the next `times` creates with this status (401, 429, 500, 503…). */
  createStatus?: { status: number; times: number };
  /** Delay every create by this long. */
  createDelayMs?: number;
  /** Cut the stream of the next execution whose code contains `match` after this many messages. */
  dropStream?: { after: number; match: string };
  /** The next execution whose code contains this is accepted and never answered. */
  hangExecution?: string;
}

/** What the in-sandbox services share about their sandbox. */
export interface SandboxRecord {
  sandboxID: string;
  templateID: string;
  /** The sandbox's own files over the host's, and how its processes are started to see them. */
  fs: SandboxFilesystem;
  /** envd's environment (its /envs): E2B's own variables and those given at creation. */
  envs(): Record<string, string>;
  faults: Faults;
  /** Executions streaming now. */
  running: number;
}

export function json(res: ServerResponse, status: number, value: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(value));
}

export async function rawBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function body(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = (await rawBody(req)).toString();
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}
