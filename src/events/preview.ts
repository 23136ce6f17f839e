/**
 * A short, safe rendering of an untrusted value for an error message: strings quoted and cut to `max`
 * characters, objects and arrays named, never the whole (possibly huge or deeply nested) value.
 */
export function preview(v: unknown, max = 100): string {
  if (typeof v === 'string') return JSON.stringify(v.length > max ? `${v.slice(0, max)}…` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return String(v);
}

/** A message (e.g. a parser's) cut to `max` characters. */
export function cut(s: string, max = 200): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}
