import type { JsonValue, ExpressionLanguage } from "@coderouter/core";

/**
 * The same program in each language. TypeScript runs the JavaScript text (valid TypeScript) unless
 * a snippet gives its own, which then also proves types are stripped.
 */
export type Snippet = { python: string; javascript: string; typescript?: string };

export function codeFor(snippet: Snippet, language: ExpressionLanguage): string {
  if (language === "typescript") return snippet.typescript ?? snippet.javascript;
  return snippet[language];
}

/** Values that must come back exactly as they are. */
export const JSON_VALUES: JsonValue[] = [null, true, false, 0, -1.5, 1e20, "", "text", [], [1, "a", null], {}, { a: { b: [1, 2] }, c: "d" }];

export function literal(value: JsonValue, language: ExpressionLanguage): string {
  const json = JSON.stringify(value);
  if (language !== "python") return `(${json})`;
  // JSON text is a Python literal once its three keywords are renamed; strings here hold none of them.
  return json
    .replace(/\btrue\b/g, "True")
    .replace(/\bfalse\b/g, "False")
    .replace(/\bnull\b/g, "None");
}

/** Non-JSON values and what the shared conversion rules turn them into. */
export const CONVERSIONS: { name: string; snippet: Snippet; expected: JsonValue | RegExp }[] = [
  {
    name: "tuples and sets become arrays",
    snippet: { python: "((1, 2), {3})", javascript: "[[1, 2], new Set([3])]" },
    expected: [[1, 2], [3]],
  },
  {
    name: "dates become ISO strings",
    snippet: {
      python: "import datetime\ndatetime.datetime(2024, 1, 2, 3, 4, 5)",
      javascript: "new Date(Date.UTC(2024, 0, 2, 3, 4, 5))",
    },
    expected: /^2024-01-02T03:04:05/,
  },
  {
    name: "NaN and Infinity become null",
    snippet: { python: "[float('nan'), float('inf'), -float('inf')]", javascript: "[NaN, Infinity, -Infinity]" },
    expected: [null, null, null],
  },
  {
    name: "functions and undefined become null",
    snippet: { python: "[len, lambda: 1, None]", javascript: "[Math.max, () => 1, undefined]" },
    expected: [null, null, null],
  },
  {
    name: "anything else becomes its string form",
    snippet: {
      python: "class P:\n    def __str__(self):\n        return 'P!'\n\nP()",
      javascript: "class P {\n  toString() {\n    return 'P!'\n  }\n}\nnew P()",
    },
    expected: "P!",
  },
];

export const CIRCULAR: Snippet = {
  python: "a = []\na.append(a)\na",
  javascript: "const a = {}\na.self = a\na",
};

export const NO_EXPRESSION: Snippet = { python: "x = 1", javascript: "const x = 1" };

export const TOP_LEVEL_AWAIT: Snippet = {
  python: "import asyncio\nawait asyncio.sleep(0.01)\n21 * 2",
  javascript: "await new Promise((resolve) => setTimeout(resolve, 10))\n21 * 2",
  typescript: "const n: number = await new Promise<number>((resolve) => setTimeout(() => resolve(21), 10))\nn * 2",
};

/** Values that break any implementation that splices inputs into source text. */
export const TRICKY_INPUTS: Record<string, JsonValue> = {
  quotes: `it's "quoted"`,
  triple: `'''"""'''`,
  backslashes: "C:\\path\\n\\x00\\u1234 \\",
  template: "${process.exit(1)} `backtick` #{x} {{y}}",
  newlines: "a\nb\r\nc\u2028d",
  unicode: "héllo 🌍 中文 \u{1F600}",
  nul: "a\u0000b",
  nested: { list: [1, { k: "v" }], n: 1.5, t: true, z: null },
  "not-an-identifier": 1,
  "with space": 2,
  class: 3,
};

export const IDENTIFIER_KEYS = ["quotes", "triple", "backslashes", "template", "newlines", "unicode", "nul", "nested"];

export const READ_INPUTS: Snippet = { python: "inputs", javascript: "inputs" };

export const READ_GLOBALS: Snippet = {
  python: `[${IDENTIFIER_KEYS.join(", ")}]`,
  javascript: `[${IDENTIFIER_KEYS.join(", ")}]`,
};

export const READ_ODD_KEYS: Snippet = {
  python: `[inputs["not-an-identifier"], inputs["with space"], inputs["class"]]`,
  javascript: `[inputs["not-an-identifier"], inputs["with space"], inputs["class"]]`,
};

export const BIG_STRING: Snippet = {
  python: "[len(big), big[-3:]]",
  javascript: "[big.length, big.slice(-3)]",
};

export const STREAMS: Snippet = {
  python: "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)",
  javascript: "console.log('to stdout')\nconsole.error('to stderr')",
};

export const FLOOD_STDOUT: Snippet = {
  python: "print('x' * (2 * 1024 * 1024))",
  javascript: "console.log('x'.repeat(2 * 1024 * 1024))",
};

export const SYNTAX_ERROR: Snippet = {
  python: "a = 1\nb = (\n",
  javascript: "const a = 1\nconst b = ;\n",
  typescript: "const a: number = 1\nconst b: = 2\n",
};

export const RUNTIME_ERROR: Snippet = {
  python: "def f():\n    raise ValueError('boom')\n\nf()",
  javascript: "function f() {\n  throw new TypeError('boom')\n}\nf()",
  typescript: "function f(): never {\n  throw new TypeError('boom')\n}\nf()",
};

export const RUNTIME_ERROR_NAME: Record<ExpressionLanguage, string> = {
  python: "ValueError",
  javascript: "TypeError",
  typescript: "TypeError",
};

export const SYNC_LOOP: Snippet = { python: "while True:\n    pass", javascript: "while (true) {}" };

export const ASYNC_LOOP: Snippet = {
  python: "import asyncio\nwhile True:\n    await asyncio.sleep(0)",
  javascript: "while (true) {\n  await null\n}",
};

export const TIMER_LOOP: Snippet = {
  python: "import asyncio\nasync def tick():\n    while True:\n        await asyncio.sleep(0.01)\nawait tick()",
  javascript: "setInterval(() => {}, 10)\nawait new Promise(() => {})",
};

export const MEMORY_BOMB: Snippet = {
  python: "hog = []\nwhile True:\n    hog.append(' ' * 10_000_000)",
  javascript: "const hog = []\nwhile (true) hog.push(new Array(1_000_000).fill(Math.random()))",
};

export const READ_ENV: Snippet = {
  python: "import os\n[os.environ.get('E2B_API_KEY'), os.environ.get('CODEROUTER_CANARY'), os.environ.get('GREETING')]",
  javascript: "const env = globalThis.process?.env ?? {};\n[env.E2B_API_KEY ?? null, env.CODEROUTER_CANARY ?? null, env.GREETING ?? null]",
};

/** Leaves output-producing work behind after its result; none of it may outlive the execution. */
export const LEAVE_WORK_BEHIND: Snippet = {
  python:
    "import threading, time\ndef tick():\n    while True:\n        print('tick', flush=True)\n        time.sleep(0.02)\nthreading.Thread(target=tick, daemon=False).start()\n'done'",
  javascript: "setInterval(() => console.log('tick'), 20)\n'done'",
};

/** The same for Python without threads: a task still scheduled when the code ends. */
export const LEAVE_TASK_BEHIND = {
  python:
    "import asyncio\nasync def tick():\n    while True:\n        print('tick', flush=True)\n        await asyncio.sleep(0.02)\nasync def main():\n    asyncio.ensure_future(tick())\n    await asyncio.sleep(0.05)\nawait main()\n'done'",
};

/** Starts a grandchild process named by a unique argument (only for runtimes that allow processes). */
export const SPAWN_SLEEPER: Record<ExpressionLanguage, (marker: string, thenLoop: boolean) => string> = {
  python: (marker, thenLoop) => `import subprocess\nsubprocess.Popen(["sleep", "${marker}"])\n${thenLoop ? "while True:\n    pass" : "'spawned'"}`,
  javascript: (marker, thenLoop) =>
    `require("node:child_process").spawn("sleep", ["${marker}"], { stdio: "ignore" })\n${thenLoop ? "while (true) {}" : "'spawned'"}`,
  typescript: (marker, thenLoop) =>
    `require("node:child_process").spawn("sleep", ["${marker}"], { stdio: "ignore" })\n${thenLoop ? "while (true) {}" : "'spawned'"}`,
};

export const SHARED_STATE: Snippet = {
  python: "import time\nseen = globals().get('marker')\nmarker = inputs['id']\ntime.sleep(0.3)\n[seen, marker]",
  javascript:
    "const seen = globalThis.marker ?? null\nglobalThis.marker = inputs.id\nawait new Promise((resolve) => setTimeout(resolve, 300));\n[seen, globalThis.marker]",
};
