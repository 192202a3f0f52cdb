import type { Session } from "coderouter";
import type { Exchange } from "../http/exchange.js";

export type FileOperation = "GET" | "LIST" | "PUT" | "DELETE";

/** A session's files, shared by the v1 routes and the seed's: list, read, write (the raw body), remove. */
export async function fileOperation(exchange: Exchange, session: Session, op: FileOperation, path: string): Promise<void> {
  switch (op) {
    case "LIST":
      return exchange.send(200, { path, entries: await session.files.list(path) });
    case "GET":
      return exchange.sendBytes(await session.files.read(path));
    case "PUT":
      await session.files.write(path, await exchange.readBody());
      return exchange.send(200, { path, written: true });
    case "DELETE":
      await session.files.remove(path);
      return exchange.send(200, { path, removed: true });
  }
}
