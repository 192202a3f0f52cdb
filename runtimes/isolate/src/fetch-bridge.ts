/**
 * The isolate's only way out: fetch() for requests with `network: true`, performed by the host for
 * hosts on ISOLATE_FETCH_ALLOW only (each redirect hop checked again), within a time limit and a
 * response-size cap. Everything crosses as JSON text; the guest never touches a host object.
 */
export class FetchBridge {
  constructor(
    private readonly allow: string[],
    private readonly timeoutMs: number,
    private readonly maxBytes: number,
  ) {}

  get enabled(): boolean {
    return this.allow.length > 0;
  }

  allows(hostname: string): boolean {
    return this.allow.some((pattern) =>
      pattern === "*" ? true : pattern.startsWith("*.") ? hostname.endsWith(pattern.slice(1)) : hostname === pattern,
    );
  }

  /** Never rejects: failures come back as `{ error }` for the guest to throw as a TypeError, like fetch does. */
  async fetch(json: string, deadline: number): Promise<string> {
    try {
      const request = JSON.parse(json) as { url: string; method: string; headers: Record<string, string>; body: string | null };
      const signal = AbortSignal.timeout(Math.max(1, Math.min(this.timeoutMs, deadline - Date.now())));
      let url = new URL(request.url);
      for (let hop = 0; ; hop++) {
        if (url.protocol !== "http:" && url.protocol !== "https:") throw new Error(`${url.protocol} URLs are not allowed`);
        if (!this.allows(url.hostname)) throw new Error(`${url.hostname} is not in ISOLATE_FETCH_ALLOW`);
        const response = await fetch(url, { method: request.method, headers: request.headers, body: request.body, redirect: "manual", signal });
        const location = response.headers.get("location");
        if (response.status >= 300 && response.status < 400 && location && hop < 5) {
          await response.body?.cancel();
          url = new URL(location, url);
          continue;
        }
        return JSON.stringify({
          status: response.status,
          statusText: response.statusText,
          url: url.href,
          headers: Object.fromEntries(response.headers),
          body: await this.readCapped(response),
        });
      }
    } catch (error) {
      const e = error as Error;
      return JSON.stringify({ error: e.name === "TimeoutError" ? "the request timed out" : e.message });
    }
  }

  private async readCapped(response: Response): Promise<string> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of response.body ?? []) {
      size += chunk.length;
      if (size > this.maxBytes) throw new Error(`the response is larger than ${this.maxBytes} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString("utf8");
  }
}
