/** A JSON value as the API carries it: what `JSON.parse` can return. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

// Deeper than this is no agent's data, and recursing further would exhaust the stack.
const MAX_DEPTH = 1000;

/** Where a value is not JSON, and why. */
export interface JsonProblem {
  /** The path into the value. */
  path: (string | number)[];
  /** What is wrong there. */
  message: string;
}

/**
 * Finds why `value` is not a JSON value that survives `JSON.stringify` → `JSON.parse` unchanged.
 * Returns one problem per bad place, with its path, or an empty list.
 */
export function jsonProblems(value: unknown): JsonProblem[] {
  return jsonSnapshot(value).problems;
}

/**
 * Reads `value` once, as a JSON value: a plain copy of it (`value`, when there are no problems)
 * and why it is not one (`problems`). What the store validates is this copy, and what it writes is
 * the same copy, so a getter or proxy that answers differently the second time (or throws) cannot
 * get past validation: it is read exactly once.
 */
export function jsonSnapshot(value: unknown): { value: JsonValue | undefined; problems: JsonProblem[] } {
  const problems: JsonProblem[] = [];
  const onPath = new Set<object>();
  // One path stack, copied only when a problem is found: this runs on every write.
  const path: (string | number)[] = [];
  const report = (message: string): undefined => {
    problems.push({ path: [...path], message });
    return undefined;
  };
  const walk = (v: unknown): JsonValue | undefined => {
    if (problems.length >= 20) return undefined;
    if (path.length > MAX_DEPTH) return report(`nested deeper than ${MAX_DEPTH} levels`);
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        // NaN and ±Infinity become null in JSON, and -0 becomes 0: neither would read back as written.
        if (!Number.isFinite(v)) return report(`${v} is not representable in JSON`);
        if (Object.is(v, -0)) return report('-0 is not representable in JSON (it reads back as 0)');
        return v;
      case 'object': {
        if (v === null) return null;
        if (onPath.has(v)) return report('circular reference');
        if (Array.isArray(v)) {
          const length = v.length;
          if (Object.keys(v).length > length) report('an array with extra properties (they would be lost)');
          onPath.add(v);
          const copy: JsonValue[] = [];
          for (let i = 0; i < length; i++) {
            path.push(i);
            if (!(i in v)) report('sparse array hole (reads back as null)');
            else copy.push(walk(v[i]) as JsonValue);
            path.pop();
          }
          onPath.delete(v);
          return copy;
        }
        const proto = Object.getPrototypeOf(v) as unknown;
        if (proto !== Object.prototype && proto !== null) {
          const name = (v as { constructor?: { name?: string } }).constructor?.name ?? 'object';
          return report(`a ${name} is not a plain JSON object`);
        }
        onPath.add(v);
        const copy: { [key: string]: JsonValue } = {};
        for (const key in v) {
          if (!Object.prototype.hasOwnProperty.call(v, key)) continue;
          path.push(key);
          const item = walk((v as Record<string, unknown>)[key]);
          // Defined as data, so a key named __proto__ stays a key (JSON.parse makes it one too).
          if (item !== undefined) Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
          path.pop();
        }
        if (Object.getOwnPropertySymbols(v).length > 0) report('symbol keys are not JSON');
        onPath.delete(v);
        return copy;
      }
      default:
        return report(`a ${typeof v} is not a JSON value`);
    }
  };
  let copy: JsonValue | undefined;
  try {
    copy = walk(value);
  } catch (e) {
    // A getter or proxy that throws is no JSON value; say where, instead of leaking its error.
    report(`reading this value threw: ${e instanceof Error ? e.message : String(e)}`);
  }
  return { value: problems.length === 0 ? copy : undefined, problems };
}

// What copyJson returns where jsonSnapshot would report a problem.
const NOT_JSON: unique symbol = Symbol('not JSON');
const hasOwn = Object.prototype.hasOwnProperty;

// jsonSnapshot's copy without its bookkeeping: no paths, no problem list, no closures per call;
// NOT_JSON at the first place jsonSnapshot would report (its rules, checked in its order).
function copyJson(v: unknown, depth: number, ancestors: object[]): JsonValue | typeof NOT_JSON {
  if (depth > MAX_DEPTH) return NOT_JSON;
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v;
    case 'number':
      // Finite and not -0 (0 === -0, so a zero is told apart by its sign's reciprocal).
      return Number.isFinite(v) && (v !== 0 || 1 / v > 0) ? v : NOT_JSON;
    case 'object': {
      if (v === null) return null;
      // A cycle is an object on its own path (the path is short: a list beats a Set).
      for (let i = 0; i < ancestors.length; i++) if (ancestors[i] === v) return NOT_JSON;
      if (Array.isArray(v)) {
        const length = v.length;
        if (Object.keys(v).length > length) return NOT_JSON;
        ancestors.push(v);
        const copy: JsonValue[] = [];
        for (let i = 0; i < length; i++) {
          if (!(i in v)) return NOT_JSON;
          const item = copyJson(v[i], depth + 1, ancestors);
          if (item === NOT_JSON) return NOT_JSON;
          copy.push(item);
        }
        ancestors.pop();
        return copy;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return NOT_JSON;
      ancestors.push(v);
      const copy: { [key: string]: JsonValue } = {};
      for (const key in v) {
        if (!hasOwn.call(v, key)) continue;
        const item = copyJson((v as Record<string, unknown>)[key], depth + 1, ancestors);
        if (item === NOT_JSON) return NOT_JSON;
        // Defined as data, so a key named __proto__ stays a key (as jsonSnapshot and JSON.parse do).
        if (key === '__proto__') Object.defineProperty(copy, key, { value: item, enumerable: true, writable: true, configurable: true });
        else copy[key] = item;
      }
      if (Object.getOwnPropertySymbols(v).length > 0) return NOT_JSON;
      ancestors.pop();
      return copy;
    }
    default:
      return NOT_JSON;
  }
}

/**
 * The fast path of {@link jsonSnapshot} for valid input: reads `value` once into the same plain
 * copy and returns it with its JSON text, or `undefined` wherever jsonSnapshot would report a
 * problem (or reading threw). It does not say why: a caller that gets `undefined` asks
 * jsonSnapshot (through the schema) to word the problems.
 */
export function encodedJson(value: unknown): { value: JsonValue; text: string } | undefined {
  let copy: JsonValue | typeof NOT_JSON;
  try {
    copy = copyJson(value, 0, []);
  } catch {
    return undefined;
  }
  return copy === NOT_JSON ? undefined : { value: copy, text: JSON.stringify(copy) };
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
