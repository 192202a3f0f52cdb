import type { ExecutionResult, Isolation, Language, Router, RuntimeId, Session, SessionExecuteOptions } from "coderouter";

/** Which session a tool call addresses: the language, and the runtime and isolation it was asked on. */
export interface SessionKey {
  language: Language;
  runtime?: "auto" | RuntimeId | undefined;
  isolation?: Isolation | undefined;
}

/**
 * The sessions of one MCP client connection. A router session keeps one language, so the
 * workspace opens one per language (and per runtime/isolation asked for) on first use, and
 * closes them all when the client goes. Nothing is shared between two connections.
 */
export class Workspace {
  private readonly sessions = new Map<string, Promise<Session>>();
  private closed = false;

  constructor(
    private readonly router: Router,
    /** Fills in what the key leaves open (the embedding server's default isolation). */
    private readonly defaults: (key: SessionKey) => Promise<SessionKey> = async (key) => key,
  ) {}

  /** The session for this key, opened now if it never was or has ended (idle, crashed). */
  async session(key: SessionKey): Promise<Session> {
    if (this.closed) throw new Error("this MCP connection has closed its workspace");
    const name = `${key.language}/${key.runtime ?? "auto"}/${key.isolation ?? "default"}`;
    const existing = this.sessions.get(name);
    if (existing) {
      const session = await existing.catch(() => undefined);
      if (session?.info().alive) return session;
    }
    const opening = this.defaults(key).then((full) =>
      this.router.openSession({
        language: full.language,
        ...(full.runtime && full.runtime !== "auto" ? { runtime: full.runtime } : {}),
        ...(full.isolation ? { isolation: full.isolation } : {}),
      }),
    );
    this.sessions.set(name, opening);
    // A failed open is not kept: the next call tries again.
    opening.catch(() => this.sessions.get(name) === opening && this.sessions.delete(name));
    return opening;
  }

  /**
   * One execution outside any session, with the key's runtime and the connection's defaults: how
   * MCP runs a bash script (each call a fresh shell in a fresh directory).
   */
  async execute(key: SessionKey, code: string, options: SessionExecuteOptions = {}): Promise<ExecutionResult> {
    if (this.closed) throw new Error("this MCP connection has closed its workspace");
    const full = await this.defaults(key);
    return this.router.execute({
      language: full.language,
      code,
      ...(full.runtime ? { runtime: full.runtime } : {}),
      ...(full.isolation ? { isolation: full.isolation } : {}),
      ...options,
    });
  }

  /** Ids of the sessions open now, for tests and logs. */
  async sessionIds(): Promise<string[]> {
    const sessions = await Promise.all([...this.sessions.values()].map((s) => s.catch(() => undefined)));
    return sessions.filter((s): s is Session => !!s && s.info().alive).map((s) => s.id);
  }

  async close(): Promise<void> {
    this.closed = true;
    const sessions = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(sessions.map(async (s) => (await s.catch(() => undefined))?.close()));
  }
}
