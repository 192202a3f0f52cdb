import type { Isolation, Router } from "coderouter";
import { isolationAtLeast } from "coderouter/runtime-kit";

/**
 * The isolation an HTTP request or session gets when it names none. A service runs other people's
 * code, so it is `sandbox` wherever some available runtime gives a sandbox for the language, unless
 * CODEROUTER_DEFAULT_ISOLATION says otherwise; the library's own default (CODEROUTER_ISOLATION) is
 * left alone. Which enabled runtimes are ready is asked once, from the server's start-up (`probe()`),
 * so the first request does not wait the second or two that loading and probing them takes.
 */
export class DefaultIsolation {
  private sandboxed?: Promise<Set<string>>;

  constructor(
    private readonly router: Router,
    private readonly configured: Isolation | undefined,
  ) {}

  /**
   * Starts asking which runtimes give a sandbox, when the default depends on it; resolves when the
   * answer is in (never rejects), so a server closing waits for the probes it started.
   */
  probe(): Promise<void> {
    if (this.configured) return Promise.resolve();
    return this.sandboxLanguages().then(
      () => undefined,
      () => undefined,
    );
  }

  /** `body` with the default isolation added when it names none (and is a JSON object). */
  async apply<T>(body: T): Promise<T> {
    if (typeof body !== "object" || body === null || Array.isArray(body) || (body as { isolation?: unknown }).isolation !== undefined) return body;
    const isolation = await this.forLanguage((body as { language?: unknown }).language);
    return isolation ? { ...body, isolation } : body;
  }

  private async forLanguage(language: unknown): Promise<Isolation | undefined> {
    if (this.configured) return this.configured;
    return typeof language === "string" && (await this.sandboxLanguages()).has(language) ? "sandbox" : undefined;
  }

  private sandboxLanguages(): Promise<Set<string>> {
    this.sandboxed ??= this.router
      .runtimes({ enabledOnly: true })
      .then(
        (statuses) =>
          new Set(
            statuses.flatMap((s) => (s.available && s.capabilities && isolationAtLeast(s.capabilities.isolation, "sandbox") ? s.capabilities.languages : [])),
          ),
      );
    return this.sandboxed;
  }
}
