import { StringDecoder } from "node:string_decoder";

/**
 * Collects one output stream (stdout or stderr) of an execution: decodes UTF-8 across chunk
 * boundaries, forwards text to the caller's callback as it arrives, and keeps at most `limitBytes`.
 * Past the limit it keeps nothing more, marks itself truncated and calls `onLimit` once, so the
 * runtime can stop code that floods its output.
 */
export class OutputStream {
  private readonly decoder = new StringDecoder("utf8");
  private readonly parts: string[] = [];
  private bytes = 0;
  truncated = false;

  constructor(
    private readonly limitBytes: number,
    private readonly onText?: (text: string) => void,
    private readonly onLimit?: () => void,
  ) {}

  write(chunk: Buffer | string): void {
    if (this.truncated) return;
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    const room = this.limitBytes - this.bytes;
    const kept = buffer.length > room ? buffer.subarray(0, room) : buffer;
    this.bytes += kept.length;
    this.emit(this.decoder.write(kept));
    if (kept.length < buffer.length) {
      this.truncated = true;
      this.onLimit?.();
    }
  }

  /** The text collected so far; an incomplete trailing UTF-8 sequence is dropped, not mangled. */
  text(): string {
    if (!this.truncated) this.emit(this.decoder.end());
    return this.parts.join("");
  }

  private emit(text: string): void {
    if (!text) return;
    this.parts.push(text);
    try {
      this.onText?.(text);
    } catch {
      // A throwing callback belongs to the caller; it must not break the execution it observes.
    }
  }
}
