/**
 * The checks the orchestrator makes on a submitted job before it is stored (models.Job /
 * models.Task Validate, models.ValidateEnvVars, NetworkConfig.Validate, ResourcesConfig
 * ToResources), each failing with the orchestrator's own wording.
 */

export interface Task {
  Name: string;
  Engine: { Type: string; Params: { Image?: string; Entrypoint?: string[]; Parameters?: string[]; WorkingDirectory?: string } };
  Env?: Record<string, string>;
  InputSources?: { Source?: { Type?: string; Params?: { URL?: string } }; Target?: string }[];
  Resources?: { CPU?: string; Memory?: string };
  Network?: { Type?: string };
  Timeouts?: { ExecutionTimeout?: number };
}

export interface JobSpec extends Record<string, unknown> {
  Name?: string;
  Type?: string;
  Tasks: Task[];
}

/** models.Network as marshalled (its String()); "Full" is the deprecated alias of "Host". */
export const NETWORK_TYPES = ["Default", "None", "Host", "Full", "HTTP", "Bridge"] as const;

/** What the job's task asks of a node, in cores and bytes. */
export interface Resources {
  cpu: number;
  memory: number;
}

/** The first problem with the job, or its resources when there is none. */
export function validateJob(spec: JobSpec | undefined): { error: string } | { resources: Resources } {
  const task = spec?.Tasks?.[0];
  if (!spec || spec.Type !== "batch") return { error: "job type must be one of batch, ops, service, daemon" };
  if (!task || spec.Tasks.length !== 1) return { error: "job must have exactly one task" };
  if (task.Engine?.Type !== "docker" || !task.Engine.Params?.Image) return { error: "invalid docker engine params: image is required" };
  const env = envError(task.Env ?? {});
  if (env) return { error: `invalid task: ${env}` };
  for (const input of task.InputSources ?? []) {
    if (!input.Target?.startsWith("/")) return { error: "invalid input source: target must be an absolute path" };
    // The local node has only the urlDownload storage provider (its IsURLSupported: http and https).
    if (input.Source?.Type !== "urlDownload") return { error: `storage source type ${input.Source?.Type} is not supported by the local node` };
    if (!/^https?:\/\//.test(input.Source.Params?.URL ?? "")) return { error: `invalid input source: unsupported URL ${input.Source.Params?.URL}` };
  }
  const network = task.Network?.Type ?? "Default";
  if (!(NETWORK_TYPES as readonly string[]).includes(network)) return { error: `invalid networking type "${network}"` };
  const cpu = task.Resources?.CPU ? parseCpu(task.Resources.CPU) : DEFAULT_CPU;
  if (cpu === undefined) return { error: `invalid CPU value: ${task.Resources!.CPU}` };
  const memory = task.Resources?.Memory ? parseBytes(task.Resources.Memory) : DEFAULT_MEMORY;
  if (memory === undefined) return { error: `invalid memory value: ${task.Resources!.Memory}` };
  return { resources: { cpu, memory } };
}

/** JobDefaults.Batch.Task.Resources in Bacalhau's default configuration: "500m" and "512Mb". */
const DEFAULT_CPU = 0.5;
const DEFAULT_MEMORY = 512e6;

function envError(env: Record<string, string>): string | undefined {
  for (const [name, value] of Object.entries(env)) {
    if (!name) return "environment variable name cannot be empty";
    if (name !== name.toUpperCase()) return `environment variable '${name}' must be uppercase`;
    if (!/^\p{L}/u.test(name)) return `environment variable '${name}' must start with a letter`;
    if (!/^[\p{L}\p{N}_]+$/u.test(name)) return `environment variable '${name}' can only contain letters, numbers, and underscores`;
    if (name.toUpperCase().startsWith("BACALHAU_")) return `environment variable '${name}' cannot start with BACALHAU_`;
    if (value === "") return `environment variable '${name}' cannot have empty value`;
  }
  return undefined;
}

/** A Kubernetes-style CPU quantity: "1", "0.5", "500m". */
function parseCpu(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(text);
  if (!match) return undefined;
  return Number(match[1]) / (match[2] ? 1000 : 1);
}

/** go-humanize's ParseBytes: "mb" and "m" are 10^6 bytes, "mib" and "mi" 2^20. */
function parseBytes(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(text);
  if (!match) return undefined;
  const power = " kmgt".indexOf(match[2]!.toLowerCase() || " ");
  const base = match[3] ? 1024 : 1000;
  return Math.floor(Number(match[1]) * base ** power);
}
