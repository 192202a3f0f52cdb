import type { JsonValue, RuntimeId } from "@coderouter/core";

/**
 * A program whose result must not depend on the runtime: run on a runtime as a snippet (`body`, then
 * `value` as the last expression) and by the bare interpreter as a file, the two must agree.
 */
export interface ParityProgram {
  name: string;
  body: string;
  /** The expression whose value is the result. */
  value: string;
  /** The fields compared; all by default. */
  compare?: ("output" | "stdout" | "stderr" | "error")[];
  /** What of stdout and stderr can match across engines (stack frames carry paths and columns). */
  normalize?: { stdout?: (text: string) => string };
  /** Run twice on the same runtime: nothing of the first run may reach the second. */
  twice?: boolean;
  /**
   * Runtimes where the result differs by design, and what they give instead: each is a row of the
   * README's "Differences between runtimes" table, and is tested as documented, not skipped.
   */
  differs?: Partial<Record<RuntimeId, { output?: JsonValue; error?: string; stdout?: string }>>;
}

export const PYTHON_PARITY: ParityProgram[] = [
  {
    name: "the code is the __main__ module: doctest, pickle and inspect see it",
    body: `"""A module docstring with an example.

>>> double(21)
42
"""
import doctest, inspect, os, pickle, sys

def double(n):
    """
    >>> double(2)
    4
    """
    return n * 2

class Point:
    def __init__(self, x):
        self.x = x

report = doctest.testmod()
copy = pickle.loads(pickle.dumps(Point(7)))`,
    value: `[report.attempted, report.failed, copy.x, type(copy).__module__, __name__, os.path.basename(__file__),
 os.path.isabs(__file__), sys.modules["__main__"].double is double, inspect.getsource(double).splitlines()[0],
 inspect.getsource(Point).splitlines()[0], __doc__.splitlines()[0]]`,
  },
  {
    name: "doctest runs a wrong example and counts it failed",
    body: `def wrong():
    """
    >>> wrong()
    2
    """
    return 1

import doctest
failed = doctest.testmod().failed`,
    value: "failed",
    compare: ["output", "error"],
  },
  {
    name: "integers come back exactly: as numbers when a double prints them back, else as decimal strings",
    body: "big = [2**64, 2**53 + 1, -(2**63), 10**400, 2**53 - 1, -(2**53 - 1), 2**53, 10**20, 10**22, 1.5, 10**20 / 3]",
    value: "big",
  },
  {
    name: "non-finite numbers become null, however large the integer beside them",
    body: "values = [float('inf'), float('-inf'), float('nan'), 10**400, 10**5000 > 0]",
    value: "values",
  },
  {
    name: "output without a final newline is flushed, and none of it reaches the next execution",
    body: `import sys
print("partial", end="")
sys.stderr.write("no newline")`,
    value: "None",
    twice: true,
  },
  {
    name: "an uncaught exception names its class",
    body: "import json\njson.loads('{')",
    value: "None",
    compare: ["error", "stdout"],
  },
  {
    name: "threads run",
    body: `import threading
box = []
worker = threading.Thread(target=lambda: box.append(sum(range(10))))
worker.start()
worker.join()`,
    value: "box",
    differs: { wasm: { error: "RuntimeError" } },
  },
  {
    name: "the interpreter is a 64-bit CPython",
    body: "import sys, platform",
    value: "[sys.maxsize == 2**63 - 1, platform.python_implementation()]",
    differs: { wasm: { output: [false, "CPython"] } },
  },
  {
    name: "the standard library has sqlite3 and time-zone data",
    body: "import zoneinfo\nzone = str(zoneinfo.ZoneInfo('Europe/Paris'))\nimport sqlite3",
    value: "[zone, sqlite3.connect(':memory:').execute('select 6 * 7').fetchone()[0]]",
    differs: { wasm: { error: "ZoneInfoNotFoundError" } },
  },
];
