import { createRequire } from "node:module";
import { isDeepStrictEqual } from "node:util";
import { describe, expect, it } from "vitest";

// The guest implementations, installed on an empty object, checked against the host's own globals.
const require = createRequire(import.meta.url);
const { installWebGlobals } = require("../runners/web-globals.cjs") as { installWebGlobals: (target: object, url: object) => void };
const guest = {} as typeof globalThis;
installWebGlobals(guest, require("../runners/url.cjs"));

describe("web-globals.cjs and url.cjs behave as Node's globals", () => {
  it("TextEncoder writes UTF-8, a lone surrogate as U+FFFD", () => {
    const text = "aé中😀\ud800x\udc00";
    expect(Buffer.from(new guest.TextEncoder().encode(text))).toEqual(Buffer.from(new TextEncoder().encode(text)));
  });

  it.each([
    [[0xff, 0x41]],
    [[0xe2, 0x82]],
    [[0xf0, 0x9f, 0x98]],
    [[0xed, 0xa0, 0x80]],
    [[0xc0, 0xaf]],
    [[0xef, 0xbb, 0xbf, 0x41]],
    [[0xf4, 0x90, 0x80, 0x80]],
    [[0xe4, 0xb8, 0xad, 0xf0, 0x9f, 0x98, 0x80]],
  ])("TextDecoder replaces each invalid sequence as Node does: %j", (bytes) => {
    expect(new guest.TextDecoder().decode(new Uint8Array(bytes))).toBe(new TextDecoder().decode(new Uint8Array(bytes)));
  });

  it("atob and btoa", () => {
    expect(guest.btoa("hello\xff")).toBe(btoa("hello\xff"));
    expect(guest.atob(" aGVs bG8= ")).toBe(atob(" aGVs bG8= "));
    expect(guest.atob("YQ")).toBe(atob("YQ"));
    expect(() => guest.btoa("中")).toThrow(expect.objectContaining({ name: "InvalidCharacterError" }));
    expect(() => guest.atob("a")).toThrow(expect.objectContaining({ name: "InvalidCharacterError" }));
  });

  it("structuredClone copies cycles, dates, maps, sets and typed arrays, and refuses functions", () => {
    // biome-ignore lint/suspicious/noSparseArray: holes are what is being printed
    const original: Record<string, unknown> = { d: new Date(0), m: new Map([[1, { x: 1 }]]), s: new Set([1]), a: [1, , 3], t: new Uint8Array([1, 2]) };
    original.self = original;
    const copy = guest.structuredClone(original);
    expect(copy).not.toBe(original);
    expect(copy.self).toBe(copy);
    expect(isDeepStrictEqual(copy, structuredClone(original))).toBe(true);
    expect(() => guest.structuredClone(() => 1)).toThrow(expect.objectContaining({ name: "DataCloneError", message: "() => 1 could not be cloned." }));
  });

  it.each([
    ["https://User:pw@Example.COM:443/a/./b/../c?x=1 2&y#frag"],
    ["../d?q", "http://h.com/a/b/c"],
    ["//other.org/p", "https://h.com/x"],
    ["?only", "http://h/a/b?z#f"],
    ["#f2", "http://h/a?z"],
    ["mailto:Joe@x.com"],
    ["http://h:8080"],
    ["file:///etc/passwd"],
    ["data:text/plain,hi there"],
    ["/abs/path", "https://h.com/a/b"],
    ["http://h/ä ö"],
  ])("URL %s (base %s)", (input: string, base?: string) => {
    const ours = new guest.URL(input, base);
    const node = new URL(input, base);
    for (const key of ["href", "origin", "protocol", "username", "password", "host", "hostname", "port", "pathname", "search", "hash"] as const) {
      expect(ours[key], key).toBe(node[key]);
    }
  });

  it("URLSearchParams edits the URL's query as Node's does; a bad URL is a TypeError", () => {
    const [ours, node] = [new guest.URL("https://x.com/?a=1&b=2"), new URL("https://x.com/?a=1&b=2")];
    for (const url of [ours, node]) {
      url.searchParams.append("c", "3 4");
      url.searchParams.set("a", "9");
      url.searchParams.delete("b");
    }
    expect(ours.href).toBe(node.href);
    expect(String(new guest.URLSearchParams({ q: "a b", r: "~!" }))).toBe(String(new URLSearchParams({ q: "a b", r: "~!" })));
    for (const bad of ["nope", "http://", "http://a b/"]) expect(() => new guest.URL(bad)).toThrow(TypeError);
  });
});
