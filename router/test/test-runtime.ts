import {
  InfrastructureError,
  type Availability,
  type Capabilities,
  type NormalizedRequest,
  type Runtime,
  type RuntimeId,
  type RuntimeResult,
} from "@coderouter/core";

/**
 * A Runtime written for router tests: it echoes the request back as its output, or fails the way a
 * test asks, so routing, fallback and result shaping can be checked without any backend.
 */
export class EchoRuntime implements Runtime {
  executions: NormalizedRequest[] = [];
  closed = false;
  /** Set by a test that needs the runtime to report some imports as not installed. */
  missingModules?: Runtime["missingModules"];

  constructor(
    readonly id: RuntimeId,
    private readonly caps: Partial<Capabilities> = {},
    private readonly behaviour: { infrastructureFailure?: string; availability?: Availability; codeFails?: boolean } = {},
  ) {}

  capabilities(): Capabilities {
    return {
      languages: ["python", "javascript", "typescript"],
      isolation: "process",
      maxDurationMs: 3_600_000,
      startupMs: 10,
      costPerSecondUsd: 0,
      network: true,
      packages: "local",
      sessions: false,
      location: "local",
      ...this.caps,
    };
  }

  async availability(): Promise<Availability> {
    return this.behaviour.availability ?? { available: true, reason: "test runtime" };
  }

  async execute(request: NormalizedRequest): Promise<RuntimeResult> {
    this.executions.push(request);
    if (this.behaviour.infrastructureFailure) throw new InfrastructureError(this.id, this.behaviour.infrastructureFailure);
    return {
      ok: !this.behaviour.codeFails,
      runtime: this.id,
      language: request.language,
      output: { ran: this.id, code: request.code },
      stdout: "",
      stderr: "",
      ...(this.behaviour.codeFails ? { error: { kind: "runtime" as const, name: "Error", message: "boom" } } : {}),
      metadata: { durationMs: 0 },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}
