import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";

/** The few pieces of RFC 6455 a server needs to push JSON messages and close normally. */

const WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface ServerSocket {
  send(value: unknown): void;
  /** A close frame with 1000 (normal closure), then the TCP connection ends. */
  close(): void;
  /** Drops the connection without a close frame (a cut stream). */
  cut(): void;
  readonly closed: boolean;
  onClose(listener: () => void): void;
}

/** Answers the upgrade handshake; undefined (the socket ended with `refusal`) when it cannot. */
export function acceptWebSocket(req: IncomingMessage, socket: Socket): ServerSocket | undefined {
  const key = req.headers["sec-websocket-key"];
  if (typeof key !== "string") {
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    return undefined;
  }
  const accept = createHash("sha1")
    .update(key + WEBSOCKET_GUID)
    .digest("base64");
  socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
  const normalClose = () => frame(0x8, Buffer.from([0x03, 0xe8]));
  // The client's close frame (opcode 8): answer it and hang up.
  socket.on("data", (data: Buffer) => {
    if ((data[0]! & 0x0f) === 0x8) socket.end(normalClose());
  });
  socket.on("error", () => {});
  return {
    send: (value) => {
      if (!socket.destroyed) socket.write(frame(0x1, Buffer.from(JSON.stringify(value))));
    },
    close: () => {
      if (!socket.destroyed) socket.end(normalClose());
    },
    cut: () => socket.destroy(),
    get closed() {
      return socket.destroyed;
    },
    onClose: (listener) => socket.on("close", listener),
  };
}

/** One unmasked frame, as a server sends it. */
function frame(opcode: number, payload: Buffer): Buffer {
  const length = payload.length;
  let header: Buffer;
  if (length < 126) header = Buffer.from([0x80 | opcode, length]);
  else if (length < 65536) header = Buffer.from([0x80 | opcode, 126, length >> 8, length & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x80 | opcode;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(length), 2);
  }
  return Buffer.concat([header, payload]);
}
