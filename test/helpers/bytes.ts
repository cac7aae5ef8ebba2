import { expect } from 'vitest';

/** The first offset where `a` and `b` differ (a length difference counts), or -1 when they are identical. */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * Asserts two byte arrays are identical. (vitest's deep equality walks typed arrays element by
 * element and takes seconds on a database file; this is linear and names the first difference.)
 */
export function expectSameBytes(actual: Uint8Array, expected: Uint8Array, what = 'bytes'): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  expect(firstDifference(actual, expected), `${what}: first differing offset`).toBe(-1);
}
