/** A JSON value as the API carries it: what `JSON.parse` can return. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

// Deeper than this is no agent's data, and recursing further would exhaust the stack.
const MAX_DEPTH = 1000;

/**
 * Finds why `value` is not a JSON value that survives `JSON.stringify` → `JSON.parse` unchanged.
 * Returns one problem per bad place, with its path, or an empty list.
 */
export function jsonProblems(value: unknown): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const onPath = new Set<object>();
  // One path stack, copied only when a problem is found: this runs on every write.
  const path: (string | number)[] = [];
  const report = (message: string): void => {
    problems.push({ path: [...path], message });
  };
  const walk = (v: unknown): void => {
    if (problems.length >= 20) return;
    if (path.length > MAX_DEPTH) {
      report(`nested deeper than ${MAX_DEPTH} levels`);
      return;
    }
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return;
      case 'number':
        // NaN and ±Infinity become null in JSON, and -0 becomes 0: neither would read back as written.
        if (!Number.isFinite(v)) report(`${v} is not representable in JSON`);
        else if (Object.is(v, -0)) report('-0 is not representable in JSON (it reads back as 0)');
        return;
      case 'object': {
        if (v === null) return;
        if (onPath.has(v)) {
          report('circular reference');
          return;
        }
        if (Array.isArray(v)) {
          if (Object.keys(v).length > v.length) report('an array with extra properties (they would be lost)');
          onPath.add(v);
          for (let i = 0; i < v.length; i++) {
            path.push(i);
            if (!(i in v)) report('sparse array hole (reads back as null)');
            else walk(v[i]);
            path.pop();
          }
          onPath.delete(v);
          return;
        }
        const proto = Object.getPrototypeOf(v) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          report(`a ${name} is not a plain JSON object`);
          return;
        }
        onPath.add(v);
        for (const key in v) {
          if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
          path.push(key);
          walk((v as Record<string, unknown>)[key]);
          path.pop();
        }
        if (Object.getOwnPropertySymbols(v).length > 0) report('symbol keys are not JSON');
        onPath.delete(v);
        return;
      }
      default:
        report(`a ${typeof v} is not a JSON value`);
    }
  };
  try {
    walk(value);
  } catch (e) {
    // A getter or proxy that throws is no JSON value; say where, instead of leaking its error.
    report(`reading this value threw: ${e instanceof Error ? e.message : String(e)}`);
  }
  return problems;
}

/** JSON text for a column. Callers pass values already checked by {@link jsonProblems}. */
export function encodeJson(value: JsonValue): string {
  return JSON.stringify(value);
}

/** Reads a JSON column: its value, or the raw text when the stored text is not valid JSON. */
export function decodeJson(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}
