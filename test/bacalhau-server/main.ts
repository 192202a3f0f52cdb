import { LocalBacalhau } from "./server.js";

/**
 * `npm run dev:bacalhau`: the local Bacalhau orchestrator on the port the bacalhau CLI uses by
 * default, for trying the bacalhau runtime without a cluster. Tasks run as local processes.
 */
const server = await new LocalBacalhau({ port: Number(process.env.BACALHAU_API_PORT ?? 1234) }).start();
process.stdout.write(`local Bacalhau orchestrator on ${server.host}:${server.port}; point coderouter at it with:\n\n`);
for (const [name, value] of Object.entries(server.env())) process.stdout.write(`export ${name}=${value}\n`);
process.stdout.write("\nCtrl-C stops it and every job.\n");
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => void server.close().then(() => process.exit(0)));
}
