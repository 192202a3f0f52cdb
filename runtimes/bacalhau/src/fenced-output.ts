import type { OutputStream } from "@coderouter/core";

/**
 * The job's stdout as it streams in: the code's own output goes on to the request's stream, the
 * result that follows "\n" + fence is kept back. Text that could be the start of a fence split
 * across chunks is held until the next chunk says what it is.
 */
export class FencedOutput {
  private readonly marker: string;
  private held = "";
  private result: string | undefined;

  constructor(
    fence: string,
    private readonly stream: OutputStream,
  ) {
    this.marker = `\n${fence}`;
  }

  get found(): boolean {
    return this.result !== undefined;
  }

  push(text: string): void {
    if (this.result !== undefined) {
      this.result += text;
      return;
    }
    this.held += text;
    const at = this.held.indexOf(this.marker);
    if (at >= 0) {
      this.stream.write(this.held.slice(0, at));
      this.result = this.held.slice(at + this.marker.length);
      this.held = "";
      return;
    }
    const keep = this.marker.length - 1;
    if (this.held.length > keep) {
      this.stream.write(this.held.slice(0, this.held.length - keep));
      this.held = this.held.slice(-keep);
    }
  }

  /** The result's JSON text, or undefined when the output ended without one (what was held is flushed). */
  end(): string | undefined {
    if (this.result === undefined && this.held) this.stream.write(this.held);
    this.held = "";
    return this.result?.trim();
  }
}
