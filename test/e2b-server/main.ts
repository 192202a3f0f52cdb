import { LocalE2B } from "./server.js";

/**
 * `npm run dev:e2b`: the local E2B on a fixed port, for trying coderouter's E2B runtime (and the
 * CLI, and the HTTP service) without an account. Prints the variables that point the SDK at it.
 */
const server = await new LocalE2B({
  port: Number(process.env.E2B_LOCAL_PORT ?? 3049),
  apiKey: process.env.E2B_LOCAL_API_KEY ?? "e2b_local_development_key",
}).start();
process.stdout.write(`local E2B listening on ${server.url}; point coderouter at it with:\n\n`);
for (const [name, value] of Object.entries(server.env())) process.stdout.write(`export ${name}=${value}\n`);
process.stdout.write("\nCtrl-C stops it and kills every sandbox.\n");
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void server.close().then(() => process.exit(0)));
}
