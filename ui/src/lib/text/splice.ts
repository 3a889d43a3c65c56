// Text splices in Unicode code points, as the laptop counts them (JavaScript strings count
// UTF-16 units, so emoji and many scripts would otherwise land edits in the wrong place).

/** A splice: at `index`, delete `delete` code points, insert `insert`. */
export type Splice = { index: number; delete: number; insert: string };

/** The code points of a string. */
export function points(s: string): string[] {
  return Array.from(s);
}

/** Applies a splice to a string, clamping to its length. */
export function applySplice(s: string, sp: Splice): string {
  const cps = points(s);
  const at = Math.min(Math.max(0, sp.index), cps.length);
  cps.splice(at, Math.max(0, sp.delete), ...points(sp.insert));
  return cps.join('');
}

/** The single splice that turns `before` into `after` (common start and end kept), or null. */
export function diff(before: string, after: string): Splice | null {
  if (before === after) return null;
  const a = points(before);
  const b = points(after);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  return { index: start, delete: endA - start, insert: b.slice(start, endB).join('') };
}

/** A UTF-16 offset (as textareas count) to a code-point index. */
export function toPoints(s: string, utf16: number): number {
  return points(s.slice(0, utf16)).length;
}

/** A code-point index to a UTF-16 offset. */
export function toUtf16(s: string, cp: number): number {
  return points(s).slice(0, cp).join('').length;
}

/** Where a position ends up after a splice elsewhere in the text. */
export function shift(pos: number, sp: Splice): number {
  if (pos <= sp.index) return pos;
  if (pos >= sp.index + sp.delete) return pos - sp.delete + points(sp.insert).length;
  return sp.index + points(sp.insert).length;
}
