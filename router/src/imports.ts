import type { Language } from "@coderouter/core";

/**
 * The top-level modules a snippet imports, found by a light scan (no parse): good enough to tell
 * whether a local interpreter has them, which is all routing needs. Relative imports are skipped.
 */
export function importedModules(language: Language, code: string): string[] {
  const found = new Set<string>();
  if (language === "python") {
    for (const match of code.matchAll(/^\s*import\s+([\w.]+(?:\s+as\s+\w+)?(?:\s*,\s*[\w.]+(?:\s+as\s+\w+)?)*)/gm)) {
      for (const part of match[1]!.split(",")) found.add(part.trim().split(/\s+/)[0]!.split(".")[0]!);
    }
    for (const match of code.matchAll(/^\s*from\s+([\w.]+)\s+import\b/gm)) {
      if (!match[1]!.startsWith(".")) found.add(match[1]!.split(".")[0]!);
    }
  } else if (language === "javascript" || language === "typescript") {
    for (const match of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']([^"'.][^"']*)["']/g)) {
      const spec = match[1]!;
      found.add(spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!);
    }
  }
  found.delete("");
  return [...found];
}
