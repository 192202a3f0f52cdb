import { timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./error.js";

/** Checks the bearer token in constant time; without a configured token every caller is let in. */
export function authorize(req: IncomingMessage, token: string | undefined): void {
  if (!token) return;
  const given = Buffer.from(req.headers.authorization?.replace(/^Bearer\s+/i, "") ?? "");
  const expected = Buffer.from(token);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new HttpError(
      401,
      { error: { kind: "unauthorized", message: "send Authorization: Bearer <CODEROUTER_API_TOKEN>" } },
      {
        "www-authenticate": "Bearer",
      },
    );
  }
}
