import { describe, expect, it } from "vitest";
import { ValidationError, type NormalizedRequest, type RuntimeResult } from "@coderouter/core";
import { expectNoneLeft } from "./processes.js";
import { streamCases } from "./streams.js";

type Run = (code: string, extra?: Partial<NormalizedRequest>) => Promise<RuntimeResult>;

export interface BashSectionOptions {
  /** The script's processes run on this machine, where `ps` can look for what it left running. */
  processes: boolean;
  /** The runtime claims an OS sandbox: the hostile checks on descriptors and the host's files. */
  sandbox: boolean;
}

const SECRET = "e2b_conformance_secret_do_not_leak";
/** Strings that break a script built by splicing: every one must arrive as the same bytes. */
const TRICKY: Record<string, string> = {
  quotes: `it's "quoted" \`backticked\``,
  expansions: "$HOME ${PATH} $(id) `id` $((1+1)) !! *",
  lines: "first\nsecond\r\n\ttabbed",
  unicode: "héllo ✓ 🚀",
  empty: "",
  dashes: "-n -e --help",
};

/**
 * The bash language (README, "Bash"): a script run by bash, with exit codes, both streams, env and
 * inputs as environment variables and a JSON file, output as JSON on fd 3, and the limits of any
 * other language: a timeout ends everything the script started.
 */
export function bashSection(run: Run, options: BashSectionOptions): void {
  const expectOk = (result: RuntimeResult) => {
    expect(result.error, JSON.stringify(result.error)).toBeUndefined();
    expect(result.ok).toBe(true);
    expect(result.language).toBe("bash");
    expect(result.exitCode).toBe(0);
  };

  describe("bash", () => {
    describe("exit status", () => {
      it("reports exit 0 as ok with exitCode 0, and null output when fd 3 stays empty", async () => {
        const result = await run("echo hello");
        expectOk(result);
        expect(result.stdout).toBe("hello\n");
        expect(result.output).toBeNull();
      });

      it("reports a non-zero exit as a failure of the code with its exitCode, streams kept", async () => {
        const result = await run("echo before\necho oops >&2\nexit 7");
        expect(result.ok).toBe(false);
        expect(result.exitCode).toBe(7);
        expect(result.error).toMatchObject({ kind: "runtime", name: "ExitStatus", message: expect.stringMatching(/status 7/) });
        expect(result.stdout).toBe("before\n");
        expect(result.stderr).toBe("oops\n");
      });

      it("takes the status of the last command, as bash does", async () => {
        const result = await run("true\nfalse");
        expect(result.exitCode).toBe(1);
        expect(result.ok).toBe(false);
      });

      it("reports a command not found with bash's own message and status 127", async () => {
        const result = await run("echo ok\nno_such_command_xyz --flag");
        expect(result.exitCode).toBe(127);
        expect(result.stderr).toMatch(/line 2: no_such_command_xyz: command not found/);
      });

      it("reports a script ended by a signal as 128 + its number", async () => {
        const result = await run("bash -c 'kill -KILL \"$$\"'\nexit $?");
        expect(result.exitCode).toBe(137);
        expect(result.error?.message).toMatch(/signal 9/);
      });

      it("reports a syntax error as bash does, with the line", async () => {
        const result = await run("echo fine\nif then fi\n");
        expect(result.ok).toBe(false);
        expect(result.exitCode).toBe(2);
        expect(result.stderr).toMatch(/line 2: syntax error/);
      });
    });

    describe("streams", () => {
      streamCases({
        streams: (extra) => run("echo to stdout\necho to stderr >&2", extra),
        flood: (extra) => run("while :; do echo 0123456789abcdef0123456789abcdef; done", { timeoutMs: 30_000, ...extra }),
        expectOk,
      });

      it("reads nothing on stdin: a command that waits for input ends at once", async () => {
        const result = await run("cat\necho after", { timeoutMs: 10_000 });
        expectOk(result);
        expect(result.stdout).toBe("after\n");
      });
    });

    describe("env and inputs", () => {
      it("never passes the host's environment; passes the request's env", async () => {
        const saved = process.env.E2B_API_KEY;
        process.env.E2B_API_KEY = SECRET;
        try {
          const result = await run('printf "%s|%s" "${E2B_API_KEY-unset}" "$GREETING"', { env: { GREETING: "hello there" } });
          expectOk(result);
          expect(result.stdout).toBe("unset|hello there");
          expect(JSON.stringify(result)).not.toContain(SECRET);
        } finally {
          if (saved === undefined) delete process.env.E2B_API_KEY;
          else process.env.E2B_API_KEY = saved;
        }
      });

      it("makes each string input a variable holding the same bytes, never spliced into the script", async () => {
        const keys = Object.keys(TRICKY);
        const result = await run(`printf '%s\\036' ${keys.map((k) => `"$${k}"`).join(" ")}`, { inputs: TRICKY });
        expectOk(result);
        expect(result.stdout.split("\x1e").slice(0, -1)).toEqual(keys.map((k) => TRICKY[k]));
      });

      it("gives other values as their JSON text", async () => {
        const inputs = { n: 42, x: 2.5, yes: true, nothing: null, list: [1, "a"], obj: { k: "v" } };
        const result = await run(`printf '%s\\036' "$n" "$x" "$yes" "$nothing" "$list" "$obj"`, { inputs });
        expectOk(result);
        expect(result.stdout.split("\x1e").slice(0, -1)).toEqual(["42", "2.5", "true", "null", '[1,"a"]', '{"k":"v"}']);
      });

      it("puts every input, odd keys and large values too, in the JSON file named by CODEROUTER_INPUTS_FILE", async () => {
        const inputs = { "odd-key": 1, "with space": "two", plain: "three", big: `${"x".repeat(100_000)}end` };
        const result = await run('printf "%s|" "${big-unset}"\ncat "$CODEROUTER_INPUTS_FILE" >&3', { inputs });
        expectOk(result);
        // Too large for an environment string: in the file only.
        expect(result.stdout).toBe("unset|");
        expect(result.output).toEqual(inputs);
      });

      it("refuses an input named after a variable bash reads (PATH, IFS, BASH_ENV): ValidationError naming it", async () => {
        for (const name of ["PATH", "IFS", "BASH_ENV", "LD_PRELOAD"]) {
          const attempt = run("echo never", { inputs: { [name]: "x" } });
          await expect(attempt).rejects.toBeInstanceOf(ValidationError);
          await expect(attempt).rejects.toThrow(new RegExp(`input "${name}"`));
        }
      });

      // An input is data, possibly from someone other than the script's author: it must not become
      // code in a program the script starts. NODE_OPTIONS=--import=data:... once ran its JavaScript
      // in every `node` the script ran; PYTHONWARNINGS with BROWSER ran a shell command from `python3`.
      it("refuses inputs that would run code in the interpreters a script starts (NODE_OPTIONS, PYTHONWARNINGS, PERL5OPT)", async () => {
        const attacks: Record<string, string>[] = [
          { NODE_OPTIONS: "--import=data:text/javascript,console.log('pwned')" },
          { PYTHONWARNINGS: "all:0:antigravity.x:0:0", BROWSER: "/bin/sh -c 'echo pwned' #%s" },
          { PERL5OPT: "-Mstrict;print('pwned')" },
          { GLIBC_TUNABLES: "glibc.malloc.perturb=1" },
        ];
        for (const inputs of attacks) {
          const attempt = run("node -e 0 2>/dev/null; python3 -c 0 2>/dev/null; perl -e 0 2>/dev/null; true", { inputs });
          await expect(attempt).rejects.toBeInstanceOf(ValidationError);
          await expect(attempt).rejects.toThrow(new RegExp(`input "${Object.keys(inputs)[0]}"`));
        }
      });

      it("refuses 150,000 tiny inputs (too many for an exec) with a ValidationError, and runs the next script", async () => {
        const inputs = Object.fromEntries(Array.from({ length: 150_000 }, (_, i) => [`v${i.toString(36)}`, ""]));
        await expect(run("echo never", { inputs })).rejects.toBeInstanceOf(ValidationError);
        expectOk(await run("echo after"));
      });
    });

    describe("output", () => {
      it("is the JSON value the script writes to fd 3", async () => {
        const result = await run(`printf '{"rows": [1, 2], "name": "%s", "big": 12345678901234567890}' "$name" >&3`, { inputs: { name: "ok" } });
        expectOk(result);
        expect(result.output).toEqual({ rows: [1, 2], name: "ok", big: "12345678901234567890" });
      });

      it("reports text on fd 3 that is not JSON as an OutputError", async () => {
        const result = await run("echo not json >&3");
        expect(result.ok).toBe(false);
        expect(result.exitCode).toBe(0);
        expect(result.error).toMatchObject({ kind: "runtime", name: "OutputError" });
      });

      it("caps the output value like the streams", async () => {
        const result = await run("printf '\"%s\"' \"$(head -c 1100000 /dev/zero | tr '\\0' x)\" >&3", { timeoutMs: 30_000 });
        expect(result.ok).toBe(false);
        expect(result.error?.kind).toBe("output_limit");
      });
    });

    describe("limits", () => {
      it("ends a script at its timeout, with everything it started", async () => {
        const marker = `${87_000 + Math.floor(Math.random() * 300)}.${Date.now() % 1000}`;
        const script = `sleep ${marker} &\n( setsid sleep ${marker} & )\nnohup sleep ${marker} >/dev/null 2>&1 &\nwhile :; do :; done`;
        const started = Date.now();
        const result = await run(script, { timeoutMs: 1500 });
        expect(result.error?.kind).toBe("timeout");
        expect(result.exitCode).toBeUndefined();
        expect(Date.now() - started).toBeLessThan(10_000);
        if (options.processes) {
          await expectNoneLeft(marker);
        }
      });

      if (options.processes) {
        it("leaves no daemon running after a normal end", async () => {
          const marker = `${88_000 + Math.floor(Math.random() * 300)}.${Date.now() % 1000}`;
          const result = await run(`( setsid sleep ${marker} </dev/null >/dev/null 2>&1 & )\nnohup sleep ${marker} >/dev/null 2>&1 &\necho started`);
          expectOk(result);
          await expectNoneLeft(marker);
        });
      }

      it("honours an AbortSignal with kind killed", async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(), 300);
        const result = await run("while :; do :; done", { signal: controller.signal });
        expect(result.error?.kind).toBe("killed");
      });

      it("ends a script that outgrows memoryMb with kind memory, and the next one is fine", async () => {
        const result = await run('big=$(head -c 200000000 /dev/zero | tr "\\0" x)\necho "${#big}"', { memoryMb: 64, timeoutMs: 30_000 });
        expect(result.ok).toBe(false);
        expect(result.error?.kind).toBe("memory");
        const next = await run("echo fine");
        expect(next.stdout).toBe("fine\n");
      });
    });

    describe("between executions", () => {
      it("starts each script in a fresh, empty working directory: files left by the last one are gone", async () => {
        const first = await run('echo left > leftover.txt\necho left > "${TMPDIR:-/tmp}/leftover-tmp.txt"\npwd');
        expectOk(first);
        const second = await run('ls -A .\ntest -e "${TMPDIR:-/tmp}/leftover-tmp.txt" && echo tmp-left || true');
        expectOk(second);
        expect(second.stdout).toBe("");
      });

      if (options.sandbox) {
        it("hands the script none of the host's descriptors: beyond stdio, fd 3 and bash's own, only /dev/null", async () => {
          // Listed by a child into a file: a glob or a command substitution would open a descriptor in bash itself.
          const script =
            'ls /proc/$$/fd >"$TMPDIR/fds"\nwhile read -r n; do case $n in 0|1|2|3|255) ;; *) echo "$n $(readlink "/proc/$$/fd/$n")";; esac; done <"$TMPDIR/fds"';
          const result = await run(script);
          expectOk(result);
          const others = result.stdout.split("\n").filter(Boolean);
          expect(others.filter((line) => !line.endsWith(" /dev/null"))).toEqual([]);
        });

        it("sees none of the host's files: no /etc/passwd, no homes, none of the host's working directories in /tmp", async () => {
          const result = await run("ls -A /tmp /root /home 2>/dev/null\ntest -e /etc/passwd && echo passwd\ntrue");
          expectOk(result);
          expect(result.stdout).not.toMatch(/passwd|coderouter-/);
        });
      }
    });
  });
}
