import type { Artifact } from "@coderouter/core";
import type { CellResult } from "./interpreter.js";

/** E2B's own structured formats, kept beside the rendered ones under vendor MIME types. */
export const CHART_MIME = "application/vnd.e2b.chart+json";
export const DATA_MIME = "application/vnd.e2b.data+json";

const FORMATS: [keyof CellResult, string, Artifact["encoding"]][] = [
  ["png", "image/png", "base64"],
  ["jpeg", "image/jpeg", "base64"],
  ["pdf", "application/pdf", "base64"],
  ["svg", "image/svg+xml", "utf8"],
  ["html", "text/html", "utf8"],
  ["markdown", "text/markdown", "utf8"],
  ["latex", "text/latex", "utf8"],
  ["javascript", "application/javascript", "utf8"],
];

/**
 * Rich display data (figures, images, HTML) as artifacts: binary formats in base64, text as is;
 * a matplotlib figure gives its image/png and E2B's chart data (the axes, series and labels).
 */
export function toArtifacts(result: CellResult): Artifact[] {
  const out: Artifact[] = [];
  for (const [field, mimeType, encoding] of FORMATS) {
    const value = result[field];
    if (typeof value === "string") out.push({ mimeType, data: value, encoding });
  }
  if (result.json) out.push({ mimeType: "application/json", data: JSON.stringify(result.json), encoding: "utf8" });
  if (result.chart && Object.keys(result.chart).length) out.push({ mimeType: CHART_MIME, data: JSON.stringify(result.chart), encoding: "utf8" });
  if (result.data) out.push({ mimeType: DATA_MIME, data: JSON.stringify(result.data), encoding: "utf8" });
  if (!out.length && result.text) out.push({ mimeType: "text/plain", data: result.text, encoding: "utf8" });
  return out;
}
