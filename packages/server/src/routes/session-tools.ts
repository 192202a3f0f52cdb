import { PackageInstallError, type Session } from "coderouter";
import { toHttpError } from "../http/error.js";
import type { Exchange } from "../http/exchange.js";

/** A session's environment: interpreter, packages with versions, platform, working directory, limits. */
export async function sendEnvironment(exchange: Exchange, session: Session): Promise<void> {
  exchange.send(200, { success: true, environment: await session.environment() });
}

/**
 * Installs packages into a session. The answer is `{success, installed, stdout, stderr}`; with
 * `Accept: application/x-ndjson` the installer's output streams as it is written, as the execution
 * routes stream theirs. A refused or failed installation is a 422 naming the package, with its output.
 */
export async function sendInstall(exchange: Exchange, session: Session, packages: string[]): Promise<void> {
  const { req, res } = exchange;
  const abort = new AbortController();
  res.once("close", () => {
    if (!res.writableFinished) abort.abort();
  });
  const streaming = (req.headers.accept ?? "").includes("application/x-ndjson");
  const line = (event: object) => res.write(`${JSON.stringify(event)}\n`);
  let answer: { status: number; body: object };
  try {
    if (streaming) exchange.startStream("application/x-ndjson");
    const outcome = await session.installPackages(packages, {
      signal: abort.signal,
      ...(streaming ? { onStdout: (data) => line({ type: "stdout", data }), onStderr: (data) => line({ type: "stderr", data }) } : {}),
    });
    answer = { status: 200, body: { success: true, ...outcome } };
  } catch (error) {
    if (error instanceof PackageInstallError) {
      answer = {
        status: 422,
        body: { success: false, error: { kind: error.kind, message: error.message, packages: error.packages }, ...error.output },
      };
    } else if (!streaming) {
      throw error;
    } else {
      const failure = toHttpError(error);
      answer = { status: failure.status, body: { success: false, ...failure.body } };
    }
  }
  if (!streaming) return exchange.send(answer.status, answer.body);
  line({ type: "result", status: answer.status, ...answer.body });
  res.end();
}
