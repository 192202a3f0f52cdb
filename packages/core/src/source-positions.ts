/**
 * Maps positions in the code an engine ran back to the code the user wrote, through the two
 * rewrites between them: type stripping (a source map from sucrase) and prepareJavaScript's own
 * edits (returning the last expression, dynamic imports). Lines never move; columns may.
 */

/** One rewrite: [start, end) of the input replaced by parts that are literal text or input slices. */
export interface Rewrite {
  start: number;
  end: number;
  parts: (string | { from: number; to: number })[];
}

export function applyRewrites(input: string, rewrites: Rewrite[]): { output: string; anchors: [number, number][] } {
  const sorted = [...rewrites].sort((a, b) => a.start - b.start);
  const anchors: [number, number][] = [[0, 0]];
  let output = "";
  let cursor = 0;
  for (const rewrite of sorted) {
    output += input.slice(cursor, rewrite.start);
    for (const part of rewrite.parts) {
      if (typeof part === "string") {
        anchors.push([output.length, rewrite.start]);
        output += part;
      } else {
        anchors.push([output.length, part.from]);
        output += input.slice(part.from, part.to);
      }
    }
    cursor = rewrite.end;
    anchors.push([output.length, cursor]);
  }
  output += input.slice(cursor);
  return { output, anchors };
}

function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

const VLQ = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Decodes a source map's `mappings` into, per generated line, [generatedColumn, sourceLine, sourceColumn]. */
export function decodeMappings(mappings: string): [number, number, number][][] {
  const lines: [number, number, number][][] = [];
  let sourceLine = 0;
  let sourceColumn = 0;
  for (const line of mappings.split(";")) {
    const segments: [number, number, number][] = [];
    let column = 0;
    for (const segment of line.split(",")) {
      if (!segment) continue;
      const values: number[] = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = VLQ.indexOf(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0] ?? 0;
      if (values.length >= 4) {
        sourceLine += values[2]!;
        sourceColumn += values[3]!;
        segments.push([column, sourceLine, sourceColumn]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

export class SourcePositions {
  private readonly bodyLines: number[];
  private readonly strippedLines: number[];

  constructor(
    body: string,
    stripped: string,
    private readonly anchors: [number, number][],
    private readonly typeMap?: [number, number, number][][],
  ) {
    this.bodyLines = lineStarts(body);
    this.strippedLines = lineStarts(stripped);
  }

  /** A 1-based line and column in the prepared body → the same in the user's code. */
  toUser(line: number, column: number): { line: number; column: number } {
    const offset = (this.bodyLines[line - 1] ?? 0) + column - 1;
    let anchor: [number, number] = [0, 0];
    for (const a of this.anchors) if (a[0] <= offset) anchor = a;
    const strippedOffset = anchor[1] + (offset - anchor[0]);
    let strippedLine = 0;
    while (strippedLine + 1 < this.strippedLines.length && this.strippedLines[strippedLine + 1]! <= strippedOffset) strippedLine++;
    return this.fromStripped(strippedLine + 1, strippedOffset - this.strippedLines[strippedLine]! + 1);
  }

  /** A 1-based line and column in the type-stripped code → the same in the user's code. */
  fromStripped(line: number, column: number): { line: number; column: number } {
    const segments = this.typeMap?.[line - 1];
    if (!segments?.length) return { line, column };
    let best = segments[0]!;
    for (const s of segments) if (s[0] <= column - 1) best = s;
    return { line: best[1] + 1, column: best[2] + (column - 1 - best[0]) + 1 };
  }

  /** Rewrites every `file:line:column` in an engine's message or stack into the user's positions. */
  remap(text: string, filename: string): string {
    const pattern = new RegExp(`${filename.replace(".", "\\.")}:(\\d+):(\\d+)`, "g");
    return text.replace(pattern, (_, line: string, column: string) => {
      const mapped = this.toUser(Number(line), Number(column));
      return `${filename}:${mapped.line}:${mapped.column}`;
    });
  }
}
