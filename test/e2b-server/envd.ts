import type { ChildProcess } from "node:child_process";
import { createReadStream, createWriteStream, readdirSync, readFileSync } from "node:fs";
import { lstat, mkdir, readdir, readlink, rename, rm, stat, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { basename, dirname, isAbsolute, join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { json, rawBody, type SandboxRecord } from "./common.js";
import { HOME } from "./filesystem.js";

/**
 * envd, the daemon on port 49983 of every sandbox (e2b-dev/infra packages/envd), as the SDK
 * meets it: /health, /envs, file upload and download on /files, and the Connect RPC services
 * process.Process (Start streams the events of a command; SendSignal, List) and
 * filesystem.Filesystem (Stat, MakeDir, Move, ListDir, Remove), in Connect's JSON encoding.
 * A process gets PATH, HOME, USER and LOGNAME, then the sandbox's variables, then the request's;
 * its deadline is the Connect-Timeout-Ms header; relative paths are the user's home.
 */

const USER = "user";
/** Marks the processes of a sandbox in their environment, so they can all be killed with it. */
export const SANDBOX_MARK = "E2B_LOCAL_SANDBOX";

/** Kills every process of this user whose environment carries the sandbox's mark. */
export function killMarked(sandboxID: string): void {
  const mark = `${SANDBOX_MARK}=${sandboxID}\0`;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, "latin1").includes(mark)) process.kill(Number(pid), "SIGKILL");
    } catch {
      // Gone, or not ours.
    }
  }
}

interface Running {
  child: ChildProcess;
  config: Record<string, unknown>;
}

export class Envd {
  private readonly processes = new Map<number, Running>();

  constructor(private readonly sandbox: SandboxRecord) {}

  async route(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (req.method === "GET" && path === "/health") return void res.writeHead(204).end();
    if (req.method === "GET" && path === "/envs") return json(res, 200, this.sandbox.envs());
    if (path === "/files") return this.files(req, res, url);
    const rpc = /^\/(process\.Process|filesystem\.Filesystem)\/(\w+)$/.exec(path);
    if (req.method === "POST" && rpc) {
      if (rpc[1] === "process.Process" && rpc[2] === "Start") return this.start(req, res);
      return this.unary(rpc[1]!, rpc[2]!, JSON.parse((await rawBody(req)).toString() || "{}"), res);
    }
    json(res, 404, { code: 404, message: `no route for ${req.method} ${path}` });
  }

  /** The sandbox is gone: every process started in it, however detached, goes with it. */
  close(): void {
    for (const { child } of this.processes.values()) kill(child);
    this.processes.clear();
    killMarked(this.sandbox.sandboxID);
  }

  /**
   * /files as envd serves it (packages/envd/internal/api/{download,upload}.go): GET streams the
   * file (404 for a missing path, 400 for a directory); POST takes a multipart form, or with
   * envd >= 0.5.7 a raw body streamed to the file, and answers the written entries with absolute
   * paths; errors are {code, message} JSON.
   */
  private async files(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const fs = this.sandbox.fs;
    const path = url.searchParams.get("path");
    if (req.method === "GET") {
      const target = fs.absolute(path ?? "");
      const info = await stat(fs.readable(target)).catch(() => undefined);
      if (!info) return json(res, 404, { code: 404, message: `path '${target}' does not exist` });
      if (info.isDirectory()) return json(res, 400, { code: 400, message: `path '${target}' is a directory` });
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": info.size,
        "content-disposition": `inline; filename="${basename(target)}"`,
      });
      return pipeline(createReadStream(fs.readable(target)), res);
    }
    if (req.method !== "POST") return json(res, 405, { code: 405, message: "method not allowed" });
    const type = req.headers["content-type"] ?? "";
    if (!type.startsWith("multipart/form-data")) {
      if (!path) return json(res, 400, { code: 400, message: "path query parameter is required for raw body upload" });
      const target = fs.absolute(path);
      const refused = await this.prepareUpload(target);
      if (refused) return json(res, 400, { code: 400, message: refused });
      await pipeline(req, createWriteStream(fs.writable(target)));
      return json(res, 200, [{ path: target, name: basename(target), type: "file" }]);
    }
    const form = await new Response(await rawBody(req), { headers: { "content-type": type } }).formData();
    const written = [];
    for (const entry of form.getAll("file")) {
      const file = entry as File;
      const target = fs.absolute(path ?? file.name);
      const refused = await this.prepareUpload(target);
      if (refused) return json(res, 400, { code: 400, message: refused });
      await writeFile(fs.writable(target), Buffer.from(await file.arrayBuffer()));
      written.push({ path: target, name: basename(target), type: "file" });
    }
    json(res, 200, written);
  }

  /** Makes the parent directories of an upload; why it cannot be written, if it cannot. */
  private async prepareUpload(target: string): Promise<string | undefined> {
    const existing = await stat(this.sandbox.fs.readable(target)).catch(() => undefined);
    if (existing?.isDirectory()) return `path is a directory: ${target}`;
    await mkdir(dirname(this.sandbox.fs.writable(target)), { recursive: true });
    return undefined;
  }

  /** process.Process/Start: a server stream of start, data, keepalive and end events. */
  private async start(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [message] = unframe(await rawBody(req));
    const request = (message ?? {}) as { process?: { cmd?: string; args?: string[]; envs?: Record<string, string>; cwd?: string } };
    const config = request.process ?? {};
    const cwd = this.sandbox.fs.absolute(config.cwd ?? HOME);
    // envd names the path it resolved (relative to the user's home), as the sandbox sees it.
    const shown = config.cwd && !isAbsolute(config.cwd) ? posix.join(HOME, config.cwd) : config.cwd;
    if (!(await stat(this.sandbox.fs.readable(cwd)).catch(() => undefined))) return streamError(res, "invalid_argument", `cwd '${shown}' does not exist`);
    const child = this.sandbox.fs.spawn(config.cmd ?? "/bin/bash", config.args ?? [], {
      cwd,
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        // The sandbox's Python is its user's to install into, as in E2B's image (the kernels' too).
        PIP_BREAK_SYSTEM_PACKAGES: "1",
        USER,
        LOGNAME: USER,
        ...this.sandbox.envs(),
        ...(config.envs ?? {}),
        [SANDBOX_MARK]: this.sandbox.sandboxID,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const pid = child.pid!;
    this.processes.set(pid, { child, config });
    res.writeHead(200, { "content-type": "application/connect+json" });
    const send = (event: unknown, flags = 0) => {
      if (!res.destroyed) res.write(frame(event, flags));
    };
    send({ event: { start: { pid } } });
    const deadline = Number(req.headers["connect-timeout-ms"]) || 0;
    let timedOut = false;
    const timer = deadline
      ? setTimeout(() => {
          timedOut = true;
          kill(child);
        }, deadline)
      : undefined;
    const interval = Number(req.headers["keepalive-ping-interval"]) || 0;
    const keepalive = interval ? setInterval(() => send({ event: { keepalive: {} } }), interval * 1000) : undefined;
    child.stdout!.on("data", (chunk: Buffer) => send({ event: { data: { stdout: chunk.toString("base64") } } }));
    child.stderr!.on("data", (chunk: Buffer) => send({ event: { data: { stderr: chunk.toString("base64") } } }));
    // A client that goes away does not stop the command, as with envd.
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      clearInterval(keepalive);
      this.processes.delete(pid);
      if (timedOut) {
        send({ error: { code: "deadline_exceeded", message: "the operation timed out" } }, 2);
      } else {
        // Go's ProcessState: ExitCode() is -1 for a signal; cmd.Wait()'s error (the `error` the SDK's
        // CommandExitError carries) is set for any end but exit status 0, worded as String().
        const status = signal ? `signal: ${signalName(signal)}` : `exit status ${code}`;
        const end = signal
          ? { exitCode: -1, exited: false, status, error: status }
          : { exitCode: code ?? 0, exited: true, status, ...(code ? { error: status } : {}) };
        send({ event: { end } });
        send({}, 2);
      }
      if (!res.destroyed) res.end();
    });
  }

  private async unary(service: string, method: string, message: Record<string, unknown>, res: ServerResponse): Promise<void> {
    const selector = (message.process as { selector?: { pid?: number }; pid?: number } | undefined) ?? {};
    const pid = Number(selector.pid ?? selector.selector?.pid);
    if (service === "process.Process" && method === "SendSignal") {
      const running = this.processes.get(pid);
      if (!running) return connectError(res, "not_found", `process with pid ${pid} not found`);
      const signal =
        message.signal === "SIGNAL_SIGTERM" || message.signal === 15
          ? "SIGTERM"
          : message.signal === "SIGNAL_SIGKILL" || message.signal === 9
            ? "SIGKILL"
            : undefined;
      if (!signal) return connectError(res, "unimplemented", `invalid signal: ${String(message.signal)}`);
      running.child.kill(signal);
      return json(res, 200, {});
    }
    if (service === "process.Process" && method === "List") {
      return json(res, 200, { processes: [...this.processes.entries()].map(([p, r]) => ({ pid: p, config: r.config })) });
    }
    if (service === "filesystem.Filesystem") return this.filesystem(method, message, res);
    connectError(res, "unimplemented", `${service}/${method} is not served by the local envd`);
  }

  /**
   * filesystem.Filesystem as envd implements it (packages/envd/internal/services/filesystem):
   * entries carry absolute paths; Stat and ListDir of a missing path are not_found, ListDir of a
   * file invalid_argument; ListDir walks `depth` levels (1 by default); MakeDir makes the parents
   * and is already_exists for a directory; Remove is os.RemoveAll, so a missing path is no error.
   */
  private async filesystem(method: string, message: Record<string, unknown>, res: ServerResponse): Promise<void> {
    const fs = this.sandbox.fs;
    const target = fs.absolute(typeof message.path === "string" ? message.path : "");
    try {
      if (method === "Stat") {
        if (!(await lstat(fs.readable(target)).catch(() => undefined))) return connectError(res, "not_found", `file not found: ${target}`);
        return json(res, 200, { entry: await entry(fs.readable(target), target) });
      }
      if (method === "MakeDir") {
        const existing = await stat(fs.readable(target)).catch(() => undefined);
        if (existing?.isDirectory()) return connectError(res, "already_exists", `directory already exists: ${target}`);
        if (existing) return connectError(res, "invalid_argument", `path already exists but it is not a directory: ${target}`);
        await mkdir(fs.writable(target), { recursive: true });
        return json(res, 200, { entry: await entry(fs.writable(target), target) });
      }
      if (method === "Move") {
        const source = fs.absolute(String(message.source));
        const destination = fs.absolute(String(message.destination));
        await mkdir(dirname(fs.writable(destination)), { recursive: true });
        await rename(fs.writable(source), fs.writable(destination));
        return json(res, 200, { entry: await entry(fs.writable(destination), destination) });
      }
      if (method === "ListDir") {
        const info = await stat(fs.readable(target)).catch(() => undefined);
        if (!info) return connectError(res, "not_found", `path not found: ${target}`);
        if (!info.isDirectory()) return connectError(res, "invalid_argument", `path is not a directory: ${target}`);
        const depth = Number(message.depth) || 1;
        return json(res, 200, { entries: await walk(fs.readable(target), target, depth) });
      }
      if (method === "Remove") {
        await rm(fs.writable(target), { recursive: true, force: true });
        return json(res, 200, {});
      }
    } catch (error) {
      return connectError(res, "internal", (error as Error).message);
    }
    connectError(res, "unimplemented", `filesystem.Filesystem/${method} is not served by the local envd`);
  }
}

/** The entries under a directory, `depth` levels deep, each with its path as the caller named it. */
async function walk(dir: string, named: string, depth: number): Promise<Record<string, unknown>[]> {
  const entries: Record<string, unknown>[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const info = await entry(join(dir, name), posix.join(named, name)).catch(() => undefined);
    if (!info) continue;
    entries.push(info);
    if (depth > 1 && info.type === "FILE_TYPE_DIRECTORY" && !info.symlinkTarget)
      entries.push(...(await walk(join(dir, name), posix.join(named, name), depth - 1)));
  }
  return entries;
}

/** envd's EntryInfo: a symlink has the type and mode of its target (unknown when dangling), and its target. */
async function entry(hostPath: string, path: string): Promise<Record<string, unknown>> {
  const link = await lstat(hostPath);
  const target = link.isSymbolicLink() ? await stat(hostPath).catch(() => undefined) : link;
  const type = !target ? "FILE_TYPE_UNSPECIFIED" : target.isDirectory() ? "FILE_TYPE_DIRECTORY" : "FILE_TYPE_FILE";
  return {
    name: basename(path),
    type,
    path,
    size: String(link.size),
    mode: (target?.mode ?? 0) & 0o777,
    permissions: permissions(link.mode),
    owner: USER,
    group: USER,
    modifiedTime: link.mtime.toISOString(),
    ...(link.isSymbolicLink() ? { symlinkTarget: await readlink(hostPath) } : {}),
  };
}

/** Go's os.FileMode.String(): `drwxr-xr-x`, `-rw-r--r--`, `Lrwxrwxrwx`. */
function permissions(mode: number): string {
  const kind = (mode & 0o170000) === 0o040000 ? "d" : (mode & 0o170000) === 0o120000 ? "L" : "-";
  const bits = "rwxrwxrwx";
  return kind + [...bits].map((c, i) => (mode & (1 << (8 - i)) ? c : "-")).join("");
}

/** Connect's envelope: a flags byte, a big-endian length, the JSON message. Flag 2 ends the stream. */
function frame(message: unknown, flags: number): Buffer {
  const data = Buffer.from(JSON.stringify(message));
  const head = Buffer.alloc(5);
  head.writeUInt8(flags, 0);
  head.writeUInt32BE(data.length, 1);
  return Buffer.concat([head, data]);
}

function unframe(buffer: Buffer): unknown[] {
  const messages: unknown[] = [];
  for (let offset = 0; offset + 5 <= buffer.length; ) {
    const length = buffer.readUInt32BE(offset + 1);
    messages.push(JSON.parse(buffer.subarray(offset + 5, offset + 5 + length).toString()));
    offset += 5 + length;
  }
  return messages;
}

const STATUS: Record<string, number> = {
  not_found: 404,
  invalid_argument: 400,
  already_exists: 409,
  unimplemented: 501,
  internal: 500,
  deadline_exceeded: 504,
};

/**
 * A server stream that fails before its first message: connect-go answers 200 and puts the error in
 * the end-of-stream frame (a non-200 status would reach the client as a bare HTTP code).
 */
function streamError(res: ServerResponse, code: string, message: string): void {
  res.writeHead(200, { "content-type": "application/connect+json" });
  res.end(frame({ error: { code, message } }, 2));
}

function connectError(res: ServerResponse, code: string, message: string): void {
  json(res, STATUS[code] ?? 500, { code, message });
}

/** Go's names for signals (syscall.Signal.String), as envd's status reports them. */
const SIGNAL_NAMES: Partial<Record<NodeJS.Signals, string>> = {
  SIGKILL: "killed",
  SIGTERM: "terminated",
  SIGINT: "interrupt",
  SIGHUP: "hangup",
  SIGPIPE: "broken pipe",
  SIGSEGV: "segmentation fault",
  SIGABRT: "aborted",
  SIGQUIT: "quit",
};

function signalName(signal: NodeJS.Signals): string {
  return SIGNAL_NAMES[signal] ?? signal.toLowerCase();
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}
