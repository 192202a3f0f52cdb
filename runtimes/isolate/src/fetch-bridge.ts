import { lookup as dnsLookup } from "node:dns/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { internalKind } from "./address-policy.js";

export interface ResolvedAddress {
  address: string;
  family: number;
}

export interface FetchBridgeOptions {
  /** ISOLATE_FETCH_ALLOW: host names, `*.suffix` patterns, or `*` for any public host. */
  allow: string[];
  /** ISOLATE_FETCH_ALLOW_PRIVATE: internal addresses become reachable (for hosts on the allow-list). */
  allowPrivate: boolean;
  timeoutMs: number;
  maxBytes: number;
  /** How a host name becomes addresses; dns.lookup unless a test brings its own resolver. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  /** Which addresses count as internal; a test may vouch for its loopback server as "public". */
  internalKind?: (address: string) => string | undefined;
}

const MAX_REDIRECTS = 5;

/**
 * The isolate's only way out: fetch() for requests with `network: true`, performed by the host for
 * hosts on ISOLATE_FETCH_ALLOW only, within a time limit and a response-size cap. The host resolves
 * each name itself, refuses internal addresses (loopback, private, link-local with the metadata
 * service, unspecified, multicast) and connects to the very address it checked, so a name that
 * changes its answer between check and connect (DNS rebinding) gains nothing. Every redirect hop is
 * checked the same way. Everything crosses as JSON text; the guest never touches a host object.
 */
export class FetchBridge {
  private readonly resolve: (hostname: string) => Promise<ResolvedAddress[]>;
  private readonly internalKind: (address: string) => string | undefined;

  constructor(private readonly options: FetchBridgeOptions) {
    this.resolve = options.resolve ?? ((hostname) => dnsLookup(hostname, { all: true, verbatim: true }));
    this.internalKind = options.internalKind ?? internalKind;
  }

  get enabled(): boolean {
    return this.options.allow.length > 0;
  }

  allows(hostname: string): boolean {
    return this.options.allow.some((pattern) =>
      pattern === "*" ? true : pattern.startsWith("*.") ? hostname.endsWith(pattern.slice(1)) : hostname === pattern,
    );
  }

  /** Never rejects: failures come back as `{ error }` for the guest to throw as a TypeError, like fetch does. */
  async fetch(json: string, deadline: number): Promise<string> {
    try {
      const request = JSON.parse(json) as { url: string; method: string; headers: Record<string, string>; body: string | null };
      const signal = AbortSignal.timeout(Math.max(1, Math.min(this.options.timeoutMs, deadline - Date.now())));
      let url = new URL(request.url);
      for (let hop = 0; ; hop++) {
        const target = await this.check(url);
        const response = await this.send(url, target, request, signal);
        const location = response.headers.location;
        if (response.statusCode! >= 300 && response.statusCode! < 400 && location && hop < MAX_REDIRECTS) {
          response.destroy();
          url = new URL(location, url);
          continue;
        }
        return JSON.stringify({
          status: response.statusCode,
          statusText: response.statusMessage ?? "",
          url: url.href,
          headers: Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(", ") : String(v)])),
          body: await this.readCapped(response),
        });
      }
    } catch (error) {
      const e = error as Error;
      return JSON.stringify({ error: e.name === "TimeoutError" || e.name === "AbortError" ? "the request timed out" : e.message });
    }
  }

  /** The address to connect to for `url`, after the allow-list and the internal-address rules. */
  private async check(url: URL): Promise<ResolvedAddress> {
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`${url.protocol} URLs are not allowed`);
    const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
    if (!this.allows(url.hostname)) throw new Error(`${url.hostname} is not in ISOLATE_FETCH_ALLOW`);
    const family = isIP(hostname);
    const addresses = family ? [{ address: hostname, family }] : await this.resolve(hostname);
    if (addresses.length === 0) throw new Error(`${hostname} did not resolve`);
    if (!this.options.allowPrivate) {
      for (const { address } of addresses) {
        const kind = this.internalKind(address);
        if (kind) {
          const what = family ? address : `${hostname} resolves to ${address}, which`;
          throw new Error(`${what} is a ${kind} address; the sandbox reaches public hosts only (ISOLATE_FETCH_ALLOW_PRIVATE=true lifts this)`);
        }
      }
    }
    return addresses[0]!;
  }

  private send(
    url: URL,
    target: ResolvedAddress,
    request: { method: string; headers: Record<string, string>; body: string | null },
    signal: AbortSignal,
  ): Promise<IncomingMessage> {
    // The connection goes to the checked address whatever the name resolves to by now.
    const pinned: LookupFunction = (_hostname, options, callback) => {
      if (options.all) (callback as (e: null, a: ResolvedAddress[]) => void)(null, [target]);
      else callback(null, target.address, target.family);
    };
    const client = url.protocol === "https:" ? https : http;
    return new Promise((resolve, reject) => {
      const outgoing = client.request(url, { method: request.method, headers: request.headers, lookup: pinned, signal, agent: false }, resolve);
      outgoing.on("error", reject);
      outgoing.end(request.body ?? undefined);
    });
  }

  private async readCapped(response: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > this.options.maxBytes) {
        response.destroy();
        throw new Error(`the response is larger than ${this.options.maxBytes} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}
