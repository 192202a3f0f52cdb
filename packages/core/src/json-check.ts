export interface JsonProblem {
  /** Where the offending value sits, as dotted keys and indexes from the root ("rows.3.when"). */
  path: string;
  message: string;
}

/** A visited value's place: its key and its parent's place, turned into a path only when one is reported. */
interface Place {
  parent: Place | undefined;
  key: string;
  /** The container itself while its members are being visited, to tell a cycle from a shared value. */
  container?: object;
}

/**
 * Finds the first value that is not JSON (a function, undefined, a bigint, a non-finite number, a
 * Date or other class instance, a cycle) in one iterative pass: no recursion, so a deeply nested value
 * cannot overflow the host's stack, and one visit per value with no path built unless one is reported.
 */
export function findJsonProblem(value: unknown, root: string): JsonProblem | undefined {
  const stack: Array<{ value: unknown; place: Place } | { leave: object }> = [{ value, place: { parent: undefined, key: root } }];
  const open = new Set<object>();
  while (stack.length) {
    const next = stack.pop()!;
    if ("leave" in next) {
      open.delete(next.leave);
      continue;
    }
    const { value: current, place } = next;
    const problem = scalarProblem(current);
    if (problem === null) continue;
    if (problem) return { path: pathOf(place), message: problem };
    const container = current as object;
    if (open.has(container)) return { path: pathOf(place), message: "a circular reference" };
    open.add(container);
    stack.push({ leave: container });
    if (Array.isArray(container)) {
      for (let i = container.length - 1; i >= 0; i--) stack.push({ value: container[i], place: { parent: place, key: String(i) } });
    } else {
      const entries = Object.entries(container);
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ value: entries[i]![1], place: { parent: place, key: entries[i]![0] } });
    }
  }
  return undefined;
}

function pathOf(place: Place): string {
  const keys: string[] = [];
  for (let at: Place | undefined = place; at; at = at.parent) keys.push(at.key);
  return keys.reverse().join(".");
}

/** null when the value is a JSON scalar, "" when it is a container to descend into, else what is wrong. */
function scalarProblem(value: unknown): string | null {
  switch (typeof value) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(value) ? null : `${value} is not a JSON number`;
    case "object": {
      if (value === null) return null;
      if (Array.isArray(value)) return "";
      const proto = Object.getPrototypeOf(value);
      return proto === Object.prototype || proto === null ? "" : `a ${proto?.constructor?.name ?? "class"} instance, not a plain object`;
    }
    default:
      return `a ${typeof value}, not a JSON value`;
  }
}
