import type { Summary } from "./measure.js";

/** One line of the bench table: ours beside a baseline measured in the same run, and the target. */
export interface Row {
  name: string;
  ours: Summary;
  baseline: Summary;
  baselineName: string;
  target: string;
  met: boolean;
  /** What the p50/p99 columns hold: milliseconds (the default) or megabytes. */
  unit?: "ms" | "MB";
}

function fmt(value: number, unit: Row["unit"] = "ms"): string {
  if (unit === "MB") return `${value.toFixed(1)} MB`;
  return value < 1 ? `${(value * 1000).toFixed(1)} µs` : `${value.toFixed(2)} ms`;
}

export function printTable(rows: Row[]): void {
  const rate = (s: Summary) => (s.perSecond ? s.perSecond.toFixed(0) : "–");
  const lines = [
    "| benchmark | ours p50 | ours p99 | ours exec/s | baseline p50 | baseline p99 | baseline exec/s | target | met |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows.map(
      (r) =>
        `| ${r.name} | ${fmt(r.ours.p50, r.unit)} | ${fmt(r.ours.p99, r.unit)} | ${rate(r.ours)} | ${fmt(r.baseline.p50, r.unit)} | ${fmt(r.baseline.p99, r.unit)} | ${rate(r.baseline)} | ${r.target} | ${r.met ? "yes" : "NO"} |`,
    ),
  ];
  console.log(lines.join("\n"));
  for (const r of rows) console.log(`- ${r.name}: baseline is ${r.baselineName}`);
}
