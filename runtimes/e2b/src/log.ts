import { createDebug } from "@coderouter/core";

/**
 * The E2B runtime's activity, by what happened: DEBUG=e2b:* (the seeds' switch) shows it all,
 * DEBUG=e2b:pool one kind; DEBUG=coderouter:* shows it with the rest of coderouter.
 */
function channel(event: string): (message: string) => void {
  const own = createDebug(`e2b:${event}`);
  const general = createDebug("coderouter:e2b");
  return (message) => {
    own(message);
    general(`${event}: ${message}`);
  };
}

export const log = {
  create: channel("create"),
  execute: channel("execute"),
  kill: channel("kill"),
  pool: channel("pool"),
};
