import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NormalizedRequest } from "@coderouter/core";
import { internalKind } from "../src/address-policy.js";
import { FetchBridge, type FetchBridgeOptions } from "../src/fetch-bridge.js";
import { IsolateRuntime } from "../src/index.js";

// A server on loopback standing for the inside: the host's own services, the metadata service.
let server: Server;
let port = 0;
const hits: string[] = [];
beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? "");
    if (req.url?.startsWith("/to/")) {
      res.writeHead(302, { location: decodeURIComponent(req.url.slice(4)) });
      return res.end();
    }
    res.end("inside");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("the isolate's fetch() with ISOLATE_FETCH_ALLOW=*", () => {
  let runtime: IsolateRuntime;
  beforeAll(() => {
    runtime = new IsolateRuntime({
      poolSize: 1,
      poolMax: 8,
      memoryMb: 64,
      maxExecutions: 100,
      fetchAllow: ["*"],
      fetchTimeoutMs: 2000,
      fetchMaxBytes: 1 << 16,
      fetchAllowPrivate: false,
      wasm: false,
    });
  });
  afterAll(() => runtime.close());
  const attempt = (url: string) => {
    const request: NormalizedRequest = {
      language: "javascript",
      code: "await (await fetch(inputs.url)).text()",
      inputs: { url },
      timeoutMs: 5000,
      isolation: "sandbox",
      maxOutputBytes: 1 << 20,
      network: true,
    };
    return runtime.execute(request);
  };

  it.each([
    ["loopback", () => `http://127.0.0.1:${port}/`, /127\.0\.0\.1 is a loopback address/],
    ["loopback in decimal", () => `http://2130706433:${port}/`, /127\.0\.0\.1 is a loopback address/],
    ["IPv6 loopback", () => `http://[::1]:${port}/`, /::1 is a loopback address/],
    ["loopback mapped into IPv6", () => `http://[::ffff:127.0.0.1]:${port}/`, /is a loopback address/],
    ["the unspecified address", () => `http://0.0.0.0:${port}/`, /0\.0\.0\.0 is a unspecified address/],
    ["the metadata service", () => "http://169.254.169.254/latest/meta-data/", /169\.254\.169\.254 is a link-local address/],
    ["a private network (10/8)", () => "http://10.0.0.1/", /10\.0\.0\.1 is a private address/],
    ["a private network (192.168/16)", () => "http://192.168.1.1/", /is a private address/],
    ["a private network (172.16/12)", () => "http://172.31.255.1/", /is a private address/],
    ["an IPv6 unique local address", () => "http://[fd00::1]/", /is a private \(unique local\) address/],
    ["a multicast address", () => "http://224.0.0.1/", /is a multicast address/],
    ["a name that resolves to loopback", () => `http://localhost:${port}/`, /localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/],
  ])("refuses %s", async (_name, url, message) => {
    const before = hits.length;
    const result = await attempt(url());
    expect(result.error?.name).toBe("TypeError");
    expect(result.error?.message).toMatch(message);
    expect(hits.length).toBe(before);
  });
});

describe("FetchBridge", () => {
  // The tests vouch for one loopback address as "public" (standing for a public host on the
  // internet, out of reach here); every other internal address keeps its real classification.
  const PUBLIC_HERE = "127.0.0.1";
  const bridge = (options: Partial<FetchBridgeOptions> = {}) =>
    new FetchBridge({
      allow: ["*"],
      allowPrivate: false,
      timeoutMs: 2000,
      maxBytes: 1 << 16,
      internalKind: (address) => (address === PUBLIC_HERE ? undefined : internalKind(address)),
      ...options,
    });
  const get = async (b: FetchBridge, url: string) =>
    JSON.parse(await b.fetch(JSON.stringify({ url, method: "GET", headers: {}, body: null }), Date.now() + 5000)) as {
      status?: number;
      body?: string;
      error?: string;
    };

  it("refuses a redirect from a public host to a loopback address, before connecting", async () => {
    const before = hits.length;
    const reply = await get(bridge(), `http://${PUBLIC_HERE}:${port}/to/${encodeURIComponent(`http://127.0.0.2:${port}/secret`)}`);
    expect(reply.error).toMatch(/127\.0\.0\.2 is a loopback address/);
    expect(hits.slice(before)).toEqual([`/to/${encodeURIComponent(`http://127.0.0.2:${port}/secret`)}`]);
  });

  it("refuses a redirect to the metadata service and to a name that resolves inside", async () => {
    const resolve = async (hostname: string) => [{ address: hostname === "inside.test" ? "10.1.2.3" : PUBLIC_HERE, family: 4 }];
    for (const [target, message] of [
      ["http://169.254.169.254/latest/meta-data/iam/", /169\.254\.169\.254 is a link-local address/],
      ["http://inside.test/", /inside\.test resolves to 10\.1\.2\.3, which is a private address/],
    ] as const) {
      const reply = await get(bridge({ resolve }), `http://${PUBLIC_HERE}:${port}/to/${encodeURIComponent(target)}`);
      expect(reply.error).toMatch(message);
    }
  });

  it("connects to the address it checked, so a name that changes its answer (DNS rebinding) gains nothing", async () => {
    let lookups = 0;
    // First answer public, every later answer the inside: a connect that resolved again would go inside.
    const resolve = async () => [{ address: lookups++ === 0 ? PUBLIC_HERE : "127.0.0.2", family: 4 }];
    const reply = await get(bridge({ resolve }), `http://rebind.test:${port}/page`);
    expect(reply).toMatchObject({ status: 200, body: "inside" });
    expect(lookups).toBe(1);
  });

  it("refuses a name with any internal address among its answers", async () => {
    const resolve = async () => [
      { address: PUBLIC_HERE, family: 4 },
      { address: "::1", family: 6 },
    ];
    expect((await get(bridge({ resolve }), `http://mixed.test:${port}/`)).error).toMatch(/mixed\.test resolves to ::1, which is a loopback address/);
  });

  it("reaches internal addresses only with ISOLATE_FETCH_ALLOW_PRIVATE=true, and only for allowed hosts", async () => {
    const open = bridge({ allowPrivate: true, allow: ["127.0.0.1"], internalKind });
    expect(await get(open, `http://127.0.0.1:${port}/ok`)).toMatchObject({ status: 200, body: "inside" });
    expect((await get(open, `http://127.0.0.2:${port}/`)).error).toMatch(/127\.0\.0\.2 is not in ISOLATE_FETCH_ALLOW/);
  });
});

describe("internalKind", () => {
  it.each([
    ["8.8.8.8", undefined],
    ["2606:4700:4700::1111", undefined],
    ["127.8.9.10", "loopback"],
    ["::1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["64:ff9b::a9fe:a9fe", "link-local"],
    ["2002:c0a8:0101::1", "private"],
    ["fe80::1%eth0", "link-local"],
    ["100.64.0.1", "private (carrier-grade NAT)"],
    ["ff02::1", "multicast"],
    ["::", "unspecified"],
  ])("classifies %s as %s", (address, kind) => {
    expect(internalKind(address)).toBe(kind);
  });
});
