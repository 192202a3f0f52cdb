// The Pyodide memory snapshot that new interpreters restore reaches every worker as one
// SharedArrayBuffer: a structured clone of its ~20 MB per new worker cost the main thread ~300 ms
// under load, a stall for whichever execution was waiting. Shared bytes must stay read-only, since
// a tenant that reached JavaScript once rewrote every later interpreter through a shared snapshot:
// each worker copies them into memory of its own and drops its reference before its interpreter
// loads, so no thread that runs a tenant's code can reach them.

/** A private copy of `data.snapshot`, which is deleted from `data`; undefined when there is none. */
export function takeSnapshot(data) {
  const shared = data.snapshot;
  delete data.snapshot;
  return shared ? new Uint8Array(shared).slice() : undefined;
}
