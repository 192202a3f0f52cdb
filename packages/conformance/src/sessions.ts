import { randomBytes } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { JsonValue, SessionFiles, SourceLanguage } from "@coderouter/core";
import { processesWith } from "./processes.js";

/** A session as a router hands it out (router/src/sessions.ts): what this section drives. */
export interface ConformanceSession {
  execute(
    code: string,
    options?: { language?: SourceLanguage; inputs?: Record<string, JsonValue>; timeoutMs?: number },
  ): Promise<{ ok: boolean; output: JsonValue; stdout: string; error?: { kind: string; message: string } }>;
  readonly files: SessionFiles;
  info(): { alive: boolean; workspace: string | null; languages: string[] };
  close(): Promise<void>;
}

export interface SessionConformanceOptions {
  /** Label of the suite, e.g. "subprocess, sandboxed". */
  name: string;
  /** Opens a session through a router (which owns the idle timer) on the runtime under test. */
  open(options: { language: SourceLanguage; idleTimeoutMs?: number }): Promise<ConformanceSession>;
  /** The languages sessions are opened with; every pair of them shares one workspace. */
  languages: SourceLanguage[];
  /**
   * How the session's code sees its working directory: at "/workspace" (the bubblewrap sandbox,
   * E2B), as a host directory (plain processes: no mount namespace to give it that path), or not
   * at all ("none": an isolate has no filesystem, and says so).
   */
  workspace: "/workspace" | "host" | "none";
  /** Whether code may start processes: checks that none outlives the session. */
  processes?: boolean;
  /** What the runtime still holds for sessions (sandboxes, workers), as names; [] once all are closed. */
  held?(): string[] | Promise<string[]>;
}

type Snippets = Record<"python" | "javascript", string> & { bash?: string };
const pick = (language: SourceLanguage, snippets: Snippets) =>
  language === "python" ? snippets.python : language === "bash" ? (snippets.bash ?? "exit 99") : snippets.javascript;
/** A language's name as its code writes it into files ("javascript" for TypeScript too). */
const family = (language: SourceLanguage) => (language === "typescript" ? "javascript" : language);

/**
 * The session section: state kept between executions, files shared by every language of the
 * session, `/workspace` from the files API and from code, idle expiry, and a close (or an expiry)
 * that frees everything the session held, with nothing it started left running.
 */
export function runSessionConformance(options: SessionConformanceOptions): void {
  describe(`session conformance: ${options.name}`, () => {
    const opened: ConformanceSession[] = [];
    const open = async (language: SourceLanguage, idleTimeoutMs?: number) => {
      const session = await options.open({ language, ...(idleTimeoutMs ? { idleTimeoutMs } : {}) });
      opened.push(session);
      return session;
    };
    afterAll(async () => {
      await Promise.all(opened.map((session) => session.close()));
    });

    describe.each(options.languages)("%s", (language) => {
      // A bash call is a script of its own: what it keeps is the workspace's files.
      it.skipIf(language === "bash")("keeps variables and definitions between executions", async () => {
        const session = await open(language);
        const first = await session.execute(
          pick(language, {
            python: "import math\ncount = inputs['start']\ndef twice(n):\n    return 2 * n",
            javascript: "let count = inputs.start;\nfunction twice(n) { return 2 * n; }",
          }),
          { inputs: { start: 20 } },
        );
        expect(first.error).toBeUndefined();
        const second = await session.execute(pick(language, { python: "count += 1\ntwice(count) + math.floor(0.5)", javascript: "count += 1;\ntwice(count)" }));
        expect(second).toMatchObject({ ok: true, output: 42 });
        await session.close();
      });

      if (options.workspace === "none") {
        it("has no filesystem, and says so", async () => {
          const session = await open(language);
          expect(session.info().workspace).toBeNull();
          await expect(session.files.write("/workspace/a.txt", "x")).rejects.toThrow(/no filesystem/);
          await expect(session.files.list("/workspace")).rejects.toThrow(/no filesystem/);
          await session.close();
        });
        return;
      }

      it("names its files /workspace/... in the API, and refuses paths outside it", async () => {
        const session = await open(language);
        await session.files.write("/workspace/data/in.txt", "from the API");
        await session.files.write("plain.txt", "relative");
        expect((await session.files.read("data/in.txt")).toString()).toBe("from the API");
        expect((await session.files.read("/workspace/plain.txt")).toString()).toBe("relative");
        expect((await session.files.list("/workspace")).map((e) => [e.name, e.type])).toEqual([
          ["data", "directory"],
          ["plain.txt", "file"],
        ]);
        expect((await session.files.list("/workspace/data")).map((e) => e.path)).toEqual(["data/in.txt"]);
        for (const outside of ["/etc/passwd", "../outside.txt", "/workspace/../etc/passwd", "/workspacex/a"]) {
          await expect(session.files.read(outside), outside).rejects.toMatchObject({ kind: "validation", statusCode: 400 });
        }
        await expect(session.files.read("/workspace/missing.txt")).rejects.toMatchObject({ kind: "not_found", statusCode: 404 });
        await session.files.remove("/workspace/data");
        await expect(session.files.list("/workspace/data")).rejects.toMatchObject({ kind: "not_found" });
        await expect(session.files.remove("/workspace/data")).rejects.toMatchObject({ kind: "not_found" });
        await session.close();
      });

      it("keeps file contents byte for byte", async () => {
        const session = await open(language);
        const bytes = randomBytes(4096);
        await session.files.write("/workspace/blob.bin", bytes);
        expect(Buffer.compare(await session.files.read("/workspace/blob.bin"), bytes)).toBe(0);
        const seen = await session.execute(
          pick(language, {
            python: "len(open('blob.bin', 'rb').read())",
            javascript: "require('node:fs').readFileSync('blob.bin').length",
            bash: "wc -c < blob.bin >&3",
          }),
        );
        expect(seen.output).toBe(bytes.length);
        await session.close();
      });

      it("runs its code in the workspace: what the API writes code reads, and back", async () => {
        const session = await open(language);
        await session.files.write("/workspace/data.csv", "a,b\n1,2\n");
        const where = options.workspace === "/workspace" ? "/workspace/data.csv" : "data.csv";
        const run = await session.execute(
          pick(language, {
            python: `import os\nrows = open(${JSON.stringify(where)}).read().splitlines()\nopen('out.txt', 'w').write(str(len(rows)))\nos.getcwd()`,
            javascript: `const fs = require('node:fs');\nconst rows = fs.readFileSync(${JSON.stringify(where)}, 'utf8').trim().split('\\n');\nfs.writeFileSync('out.txt', String(rows.length));\nprocess.cwd()`,
            bash: `printf '%s' "$(wc -l < ${where})" > out.txt\nprintf '"%s"' "$PWD" >&3`,
          }),
        );
        expect(run.error).toBeUndefined();
        if (options.workspace === "/workspace") expect(run.output).toBe("/workspace");
        else expect(run.output).toBe(session.info().workspace);
        expect((await session.files.read("/workspace/out.txt")).toString()).toBe("2");
        await session.close();
      });
    });

    const crossed = options.workspace === "none" ? [] : pairs(options.languages);
    if (crossed.length) {
      it.each(crossed)("a %s session runs %s calls over the same files, each language keeping its own state", async (first, second) => {
        const session = await open(first);
        expect(session.info().languages).toEqual(expect.arrayContaining([first, second]));
        const wrote = await session.execute(
          pick(first, {
            python: "kept = 'first'\nopen('shared.txt', 'w').write('written by python')",
            javascript: "globalThis.kept = 'first';\nrequire('node:fs').writeFileSync('shared.txt', 'written by javascript')",
            bash: "printf 'written by bash' > shared.txt",
          }),
        );
        expect(wrote.error).toBeUndefined();
        const read = await session.execute(
          pick(second, {
            python: "data = open('shared.txt').read()\nopen('reply.txt', 'w').write('python read: ' + data)\ndata",
            javascript:
              "const data = require('node:fs').readFileSync('shared.txt', 'utf8');\nrequire('node:fs').writeFileSync('reply.txt', 'javascript read: ' + data);\ndata",
            bash: `data=$(cat shared.txt)\nprintf 'bash read: %s' "$data" > reply.txt\nprintf '"%s"' "$data" >&3`,
          }),
          { language: second },
        );
        expect(read).toMatchObject({ ok: true, output: `written by ${family(first)}` });
        const back = await session.execute(
          pick(first, {
            python: "(kept, open('reply.txt').read())",
            javascript: "[kept, require('node:fs').readFileSync('reply.txt', 'utf8')]",
            bash: `printf '["first", "%s"]' "$(cat reply.txt)" >&3`,
          }),
        );
        expect(back.output).toEqual(["first", `${family(second)} read: written by ${family(first)}`]);
        await session.close();
      });
    }

    const language = options.languages[0]!;
    it("expires after its idle timeout, then says so, and frees what it held", async () => {
      const session = await open(language, 1500);
      expect((await session.execute(pick(language, { python: "1 + 1", javascript: "1 + 1" }))).output).toBe(2);
      const deadline = Date.now() + 15_000;
      while (session.info().alive && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      expect(session.info().alive).toBe(false);
      await expect(session.execute("1")).rejects.toMatchObject({ kind: "session_closed" });
      await waitFor(async () => (await options.held?.()) ?? []);
    });

    it("frees everything on close, and leaves nothing it started running", async () => {
      const marker = `${100 + (randomBytes(2).readUInt16BE() % 800)}.${randomBytes(2).readUInt16BE()}`;
      const session = await open(language);
      if (options.processes) {
        const started = await session.execute(
          pick(language, {
            python: `import subprocess\nsubprocess.Popen(["sleep", "${marker}"], start_new_session=True).pid > 0`,
            javascript: `require("node:child_process").spawn("sleep", ["${marker}"], { detached: true, stdio: "ignore" }).unref();\ntrue`,
          }),
        );
        expect(started.output).toBe(true);
      }
      await session.close();
      expect(session.info().alive).toBe(false);
      await expect(session.execute("1")).rejects.toMatchObject({ kind: "session_closed" });
      await waitFor(async () => [...((await options.held?.()) ?? []), ...processesWith(`sleep ${marker}`)]);
    });
  });
}

/** Every ordered pair of a Python and a JavaScript-family language among those given. */
function pairs(languages: SourceLanguage[]): [SourceLanguage, SourceLanguage][] {
  const python = languages.includes("python");
  const script = languages.find((l) => l !== "python");
  return python && script
    ? [
        ["python", script],
        [script, "python"],
      ]
    : [];
}

/** Waits (up to 10 s) for `leftovers` to come back empty, and fails with what is left otherwise. */
async function waitFor(leftovers: () => Promise<string[]>): Promise<void> {
  const deadline = Date.now() + 10_000;
  let left = await leftovers();
  while (left.length && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    left = await leftovers();
  }
  expect(left).toEqual([]);
}
