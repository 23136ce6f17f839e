/**
 * The generator's random source: a seeded PRNG (sfc32) and hashes, so the output is the same for the
 * same seed on every machine, with the small helpers that turn them into ids, strings and weighted picks.
 */

/** sfc32: small, fast, good enough statistical quality for test data. */
export class Rng {
  a: number;
  b: number;
  c: number;
  d: number;
  constructor(seed: number, stream = 0) {
    this.a = (seed ^ 0x9e3779b9) >>> 0;
    this.b = (stream ^ 0x243f6a88) >>> 0;
    this.c = 0xb7e15162;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }
  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  /** Uniform in [0, 1). */
  f(): number {
    return this.u32() / 4294967296;
  }
  int(n: number): number {
    return Math.floor(this.f() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.f() * xs.length)];
  }
  normal(): number {
    const u = this.f() || 1e-12;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.f());
  }
}

export function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function hash(a: number, b = 0, c = 0, d = 0): number {
  let h = fmix((a ^ 0x2545f491) >>> 0);
  h = fmix((h ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0);
  h = fmix((h ^ Math.imul(c + 0x7f4a7c15, 0xc2b2ae35)) >>> 0);
  h = fmix((h ^ Math.imul(d + 0x165667b1, 0x27d4eb2f)) >>> 0);
  return h;
}

export function strHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
export const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
export const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

export function uuid(r: Rng): string {
  const a = r.u32();
  const b = r.u32();
  const c = r.u32();
  const d = r.u32();
  return (
    HEX[a >>> 24] + HEX[(a >>> 16) & 255] + HEX[(a >>> 8) & 255] + HEX[a & 255] + '-' +
    HEX[b >>> 24] + HEX[(b >>> 16) & 255] + '-' +
    HEX[((b >>> 8) & 0x0f) | 0x40] + HEX[b & 255] + '-' +
    HEX[((c >>> 24) & 0x3f) | 0x80] + HEX[(c >>> 16) & 255] + '-' +
    HEX[(c >>> 8) & 255] + HEX[c & 255] + HEX[d >>> 24] + HEX[(d >>> 16) & 255] + HEX[(d >>> 8) & 255] + HEX[d & 255]
  );
}

export function hexFrom(r: Rng, n: number): string {
  let s = '';
  while (s.length < n) {
    const x = r.u32();
    s += HEX[x >>> 24] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
  }
  return s.slice(0, n);
}

/** n hex chars derived from a hash (for stable resource ids). */
export function hexFromHash(h: number, n: number): string {
  let s = '';
  let x = h;
  while (s.length < n) {
    x = fmix((x + 0x6d2b79f5) >>> 0);
    s += HEX[x >>> 24] + HEX[(x >>> 16) & 255] + HEX[(x >>> 8) & 255] + HEX[x & 255];
  }
  return s.slice(0, n);
}

export function charsFrom(r: Rng, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[r.u32() % alphabet.length];
  return s;
}

export function charsFromHash(h: number, alphabet: string, n: number): string {
  let s = '';
  let x = h;
  for (let i = 0; i < n; i++) {
    x = fmix((x + 0x6d2b79f5 + i) >>> 0);
    s += alphabet[x % alphabet.length];
  }
  return s;
}

export function clampInt(x: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, Math.round(x)));
}

export interface Picker<T> {
  items: T[];
  cum: Float64Array;
  total: number;
}

export function makePicker<T>(items: T[], weight: (x: T) => number): Picker<T> {
  const cum = new Float64Array(items.length);
  let total = 0;
  for (let i = 0; i < items.length; i++) {
    total += Math.max(0, weight(items[i]));
    cum[i] = total;
  }
  return { items, cum, total };
}

export function pickFrom<T>(p: Picker<T>, u: number): T {
  const x = u * p.total;
  const cum = p.cum;
  let lo = 0;
  let hi = cum.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cum[mid] > x) hi = mid;
    else lo = mid + 1;
  }
  return p.items[lo];
}
