import type { IncomingMessage, ServerResponse } from "node:http";
import { isIP } from "node:net";
import { badRequest, HttpError } from "./error.js";

export interface GuardSettings {
  /** CODEROUTER_ALLOWED_HOSTS: names the Host header may carry beside IP addresses and localhost. */
  allowedHosts: string[];
  /** CODEROUTER_CORS_ORIGINS: web origins whose pages may call the API. */
  corsOrigins: string[];
}

const CORS_METHODS = "GET, POST, PUT, DELETE";
const CORS_HEADERS = new Set(["authorization", "content-type", "accept"]);

/**
 * What a browser may do on a hostile page's behalf, refused before any route or token check: the
 * API runs code, and `serve` on loopback is reachable from every page the user visits.
 * - A Host that is not an IP address, `localhost` or an allowed name is DNS rebinding (a page's own
 *   name re-pointed at 127.0.0.1 to read the answers): 403.
 * - A request from another web origin (its Origin not listed in CODEROUTER_CORS_ORIGINS, or
 *   `Sec-Fetch-Site: cross-site` with no Origin at all) is a cross-site request, such as a form or a
 *   no-cors `text/plain` POST that needs no preflight: 403. Listed origins get CORS answers,
 *   preflight included. Clients that are not browsers send neither header and are unaffected.
 * - A path whose percent-encoding is malformed: 400.
 * Returns true when the exchange was answered here (a preflight).
 */
export function guardRequest(req: IncomingMessage, res: ServerResponse, settings: GuardSettings): boolean {
  checkHost(req.headers.host, settings.allowedHosts);
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!settings.corsOrigins.includes(origin) && !sameOrigin(origin, req.headers.host)) {
      throw forbidden(
        "cross_origin",
        `requests from the web origin ${origin} are refused: list it in CODEROUTER_CORS_ORIGINS to allow its pages to call this API`,
      );
    }
    if (settings.corsOrigins.includes(origin)) {
      res.setHeader("access-control-allow-origin", origin);
      res.setHeader("vary", "Origin");
    }
  } else if (req.headers["sec-fetch-site"] === "cross-site") {
    throw forbidden("cross_origin", "cross-site requests from web pages are refused (Sec-Fetch-Site: cross-site)");
  }
  checkPath(req.url ?? "/");
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
    preflight(req, res, origin !== undefined && settings.corsOrigins.includes(origin));
    return true;
  }
  return false;
}

/** The 415 for a body that is not JSON: a browser sends `text/plain` and form types cross-site without asking. */
export function requireJson(req: IncomingMessage): void {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, {
      error: { kind: "unsupported_media_type", message: `the body must be sent as Content-Type: application/json (got ${type || "none"})` },
    });
  }
}

function checkHost(header: string | undefined, allowed: string[]): void {
  if (!header) throw forbidden("host", "the Host header is required");
  const name = hostName(header);
  // An IP address cannot be re-pointed by a page; only names can be rebound.
  if (isIP(name) || name === "localhost" || name.endsWith(".localhost") || allowed.some((entry) => matches(entry, name))) return;
  throw forbidden(
    "host",
    `the Host ${header} is not this server's: add ${name} to CODEROUTER_ALLOWED_HOSTS if clients reach the server by that name (refused to stop DNS rebinding)`,
  );
}

function hostName(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed) return bracketed[1]!.toLowerCase();
  return header.replace(/:\d+$/, "").toLowerCase().replace(/\.$/, "");
}

function matches(entry: string, name: string): boolean {
  const pattern = entry.toLowerCase();
  return pattern.startsWith("*.") ? name.endsWith(pattern.slice(1)) : name === pattern;
}

/** A page served by this very server (same scheme-less host and port) is not cross-origin. */
function sameOrigin(origin: string, host: string | undefined): boolean {
  if (!URL.canParse(origin) || !host) return false;
  const url = new URL(origin);
  return url.protocol === "http:" && url.host === host.toLowerCase();
}

function checkPath(target: string): void {
  const path = target.split("?")[0]!;
  try {
    decodeURIComponent(path);
  } catch {
    throw badRequest(`the path ${JSON.stringify(path)} has a malformed percent-encoding`);
  }
}

function preflight(req: IncomingMessage, res: ServerResponse, allowed: boolean): void {
  const asked = String(req.headers["access-control-request-headers"] ?? "")
    .split(",")
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  const refused = asked.filter((h) => !CORS_HEADERS.has(h));
  if (!allowed || refused.length) {
    throw forbidden("cross_origin", allowed ? `headers not allowed: ${refused.join(", ")}` : "preflight from an origin not in CODEROUTER_CORS_ORIGINS");
  }
  res.writeHead(204, {
    "access-control-allow-methods": CORS_METHODS,
    "access-control-allow-headers": [...CORS_HEADERS].join(", "),
    "access-control-max-age": "600",
  });
  res.end();
}

const forbidden = (kind: string, message: string) => new HttpError(403, { error: { kind, message } });
