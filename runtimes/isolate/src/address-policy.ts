import { BlockList, isIP } from "node:net";

/**
 * Address ranges a guest's fetch() must never reach unless ISOLATE_FETCH_ALLOW_PRIVATE=true: the
 * host itself, the networks behind it and the cloud metadata service (169.254.169.254 is link-local).
 */
const INTERNAL_V4: [string, number, string][] = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "private (carrier-grade NAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "reserved"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "reserved"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved"],
];
const INTERNAL_V6: [string, number, string][] = [
  ["::", 128, "unspecified"],
  ["::1", 128, "loopback"],
  ["fc00::", 7, "private (unique local)"],
  ["fe80::", 10, "link-local"],
  ["fec0::", 10, "site-local"],
  ["ff00::", 8, "multicast"],
  ["100::", 64, "reserved (discard)"],
];

const v4 = INTERNAL_V4.map(([net, prefix, kind]) => ({ list: oneRange(net, prefix, "ipv4"), kind }));
const v6 = INTERNAL_V6.map(([net, prefix, kind]) => ({ list: oneRange(net, prefix, "ipv6"), kind }));

function oneRange(net: string, prefix: number, type: "ipv4" | "ipv6"): BlockList {
  const list = new BlockList();
  list.addSubnet(net, prefix, type);
  return list;
}

/**
 * What kind of internal address `address` is, or undefined for a public one. IPv6 forms that carry
 * an IPv4 address (mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16, the old ::a.b.c.d)
 * are judged by the IPv4 address inside, so ::ffff:127.0.0.1 is loopback like 127.0.0.1.
 */
export function internalKind(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return v4.find((range) => range.list.check(address, "ipv4"))?.kind;
  if (family !== 6) return "not an IP address";
  const embedded = embeddedIPv4(address);
  if (embedded) return internalKind(embedded);
  return v6.find((range) => range.list.check(address, "ipv6"))?.kind;
}

function embeddedIPv4(address: string): string | undefined {
  const words = expandIPv6(address);
  const tail = `${words[6]! >> 8}.${words[6]! & 255}.${words[7]! >> 8}.${words[7]! & 255}`;
  const zeros = (from: number, to: number) => words.slice(from, to).every((w) => w === 0);
  if (zeros(0, 5) && words[5] === 0xffff) return tail; // ::ffff:a.b.c.d
  if (zeros(0, 6) && (words[6] !== 0 || words[7]! > 1)) return tail; // ::a.b.c.d (deprecated form)
  if (words[0] === 0x64 && words[1] === 0xff9b && zeros(2, 6)) return tail; // NAT64
  if (words[0] === 0x2002) return `${words[1]! >> 8}.${words[1]! & 255}.${words[2]! >> 8}.${words[2]! & 255}`; // 6to4
  return undefined;
}

/** The eight 16-bit words of an IPv6 address (with or without a dotted IPv4 tail or a zone). */
function expandIPv6(address: string): number[] {
  let text = address.split("%")[0]!.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const parse = (part: string) => (part ? part.split(":").map((w) => Number.parseInt(w, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array(8 - left.length - right.length).fill(0), ...right];
}
