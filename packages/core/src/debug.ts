/**
 * Logging switched on by DEBUG, as the `debug` package does: `DEBUG=coderouter:*` enables every
 * coderouter namespace, `DEBUG=coderouter:router` one of them. Lines go to stderr, so `--json`
 * output on stdout stays parseable.
 */
export function createDebug(namespace: string): (message: string) => void {
  const patterns = (process.env.DEBUG ?? "")
    .split(/[\s,]+/)
    .filter(Boolean)
    .map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*")}$`));
  if (!patterns.some((p) => p.test(namespace))) return () => {};
  return (message) => process.stderr.write(`${new Date().toISOString()} ${namespace} ${message}\n`);
}
