import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { dirname, isAbsolute, join, basename, posix } from "node:path";
import { json, rawBody, type SandboxRecord } from "./common.js";

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

  /** envd's path resolution: relative to the user's home; /home/user is this sandbox's home. */
  private resolve(path: string): string {
    if (path === "/home/user" || path.startsWith("/home/user/")) return join(this.sandbox.home, path.slice("/home/user".length));
    return isAbsolute(path) ? path : join(this.sandbox.home, path);
  }

  private async files(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.searchParams.get("path");
    if (req.method === "GET") {
      if (!path) return json(res, 400, { code: 400, message: "path is required" });
      const data = await readFile(this.resolve(path)).catch(() => undefined);
      if (!data) return json(res, 404, { code: 404, message: `path '${path}' does not exist` });
      return void res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length }).end(data);
    }
    if (req.method !== "POST") return json(res, 405, { code: 405, message: "method not allowed" });
    const raw = await rawBody(req);
    const type = req.headers["content-type"] ?? "";
    const uploads: [string, Buffer][] = [];
    if (type.startsWith("multipart/form-data")) {
      const form = await new Response(raw, { headers: { "content-type": type } }).formData();
      for (const entry of form.getAll("file")) {
        const file = entry as File;
        uploads.push([path ?? file.name, Buffer.from(await file.arrayBuffer())]);
      }
    } else if (path) uploads.push([path, raw]);
    if (!uploads.length) return json(res, 400, { code: 400, message: "no file in the request" });
    const written = [];
    for (const [target, data] of uploads) {
      const full = this.resolve(target);
      await mkdir(dirname(full), { recursive: true });
      await writeFile(full, data);
      written.push({ name: basename(full), type: "file", path: target });
    }
    json(res, 200, written);
  }

  /** process.Process/Start: a server stream of start, data, keepalive and end events. */
  private async start(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [message] = unframe(await rawBody(req));
    const request = (message ?? {}) as { process?: { cmd?: string; args?: string[]; envs?: Record<string, string>; cwd?: string } };
    const config = request.process ?? {};
    const cwd = config.cwd ? this.resolve(config.cwd) : this.sandbox.home;
    // envd names the path it resolved (relative to the user's home), as the sandbox sees it.
    const shown = config.cwd && !isAbsolute(config.cwd) ? posix.join("/home/user", config.cwd) : config.cwd;
    if (!(await stat(cwd).catch(() => undefined))) return streamError(res, "invalid_argument", `cwd '${shown}' does not exist`);
    const child = spawn(config.cmd ?? "/bin/bash", config.args ?? [], {
      cwd,
      env: {
        PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        HOME: this.sandbox.home,
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
    const path = typeof message.path === "string" ? this.resolve(message.path) : "";
    try {
      if (method === "Stat") return json(res, 200, { entry: await entry(path) });
      if (method === "MakeDir") {
        if (await stat(path).catch(() => undefined)) return connectError(res, "already_exists", `directory ${message.path} already exists`);
        await mkdir(path, { recursive: true });
        return json(res, 200, { entry: await entry(path) });
      }
      if (method === "Move") {
        const destination = this.resolve(String(message.destination));
        await rename(this.resolve(String(message.source)), destination);
        return json(res, 200, { entry: await entry(destination) });
      }
      if (method === "ListDir") {
        const names = await readdir(path);
        return json(res, 200, { entries: await Promise.all(names.map((name) => entry(join(path, name)))) });
      }
      if (method === "Remove") {
        await rm(path, { recursive: true, force: true });
        return json(res, 200, {});
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return connectError(res, "not_found", `path '${message.path}' does not exist`);
      return connectError(res, "internal", (error as Error).message);
    }
    connectError(res, "unimplemented", `${service}/${method} is not served by the local envd`);
  }
}

async function entry(path: string): Promise<Record<string, unknown>> {
  const info = await stat(path);
  return {
    name: basename(path),
    type: info.isDirectory() ? "FILE_TYPE_DIRECTORY" : "FILE_TYPE_FILE",
    path,
    size: String(info.size),
    mode: info.mode & 0o777,
    owner: USER,
    group: USER,
    modifiedTime: info.mtime.toISOString(),
  };
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
