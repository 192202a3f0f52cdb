import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { BacalhauError } from "./api.js";

/**
 * Serves job payloads to the cluster's compute nodes, so a job carries only a URL (an urlDownload
 * input source) instead of its code and inputs. Each payload sits behind a path with 256 random
 * bits, for as long as its job runs; nothing else is served. The nodes fetch it before the
 * container starts, on their own network, so the job needs no network of its own.
 */
export class PayloadServer {
  private readonly payloads = new Map<string, Buffer>();
  private server: Server | undefined;
  private listening: Promise<void> | undefined;

  /**
   * @param publicUrl how compute nodes reach this server (BACALHAU_PAYLOAD_URL)
   * @param listen the address to bind, "host:port" (BACALHAU_PAYLOAD_LISTEN; default: publicUrl's)
   */
  constructor(
    private readonly publicUrl: URL,
    private readonly listen: { host: string; port: number },
  ) {}

  /** Publishes `payload` until `withdraw`; the URL a node downloads it from. */
  async publish(payload: Buffer): Promise<{ url: string; withdraw: () => void }> {
    await this.start();
    const token = randomBytes(32).toString("hex");
    this.payloads.set(token, payload);
    const url = new URL(`payload/${token}/payload.gz`, this.publicUrl.href.endsWith("/") ? this.publicUrl : `${this.publicUrl.href}/`);
    return { url: url.href, withdraw: () => this.payloads.delete(token) };
  }

  /** The port actually bound (when the listen port was 0). */
  get port(): number | undefined {
    return (this.server?.address() as AddressInfo | null)?.port;
  }

  async close(): Promise<void> {
    this.payloads.clear();
    const server = this.server;
    this.server = undefined;
    this.listening = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private start(): Promise<void> {
    this.listening ??= new Promise<void>((resolve, reject) => {
      const server = createServer((req, res) => {
        const token = /^\/(?:.*\/)?payload\/([0-9a-f]{64})\/payload\.gz$/.exec(req.url ?? "")?.[1];
        const payload = req.method === "GET" && token ? this.payloads.get(token) : undefined;
        if (!payload) return res.writeHead(404).end();
        res.writeHead(200, { "content-type": "application/gzip", "content-length": payload.length }).end(payload);
      });
      server.once("error", (error) =>
        reject(new BacalhauError(`cannot serve job payloads on ${this.listen.host}:${this.listen.port} (BACALHAU_PAYLOAD_LISTEN): ${error.message}`)),
      );
      server.listen(this.listen.port, this.listen.host, () => resolve());
      this.server = server;
    }).catch((error: unknown) => {
      // The next job tries again (the port may be free by then).
      this.listening = undefined;
      this.server = undefined;
      throw error;
    });
    return this.listening;
  }
}
