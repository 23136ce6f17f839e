import { brotliDecompressSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { packLines } from './chunks.ts';

const unpack = (b: Buffer): string => brotliDecompressSync(b).toString('utf8');

describe('packLines', () => {
  it('packs lines given as strings, as UTF-8 bytes, or both, to the same bytes as the lines joined by newlines', () => {
    const lines = ['{"a":1}', '{"note":"é 日本 😀 \\u2028"}', '{"b":"x"}', '{}'];
    const joined = lines.join('\n');
    expect(unpack(packLines(lines))).toBe(joined);
    expect(unpack(packLines(lines.map((l) => Buffer.from(l, 'utf8'))))).toBe(joined);
    expect(unpack(packLines(lines.map((l, i) => (i % 2 ? Buffer.from(l, 'utf8') : l))))).toBe(joined);
    // A view into a larger buffer: only its own bytes.
    const big = Buffer.from(`xx${lines[1]}yy`, 'utf8');
    expect(unpack(packLines([lines[0]!, big.subarray(2, big.length - 2)]))).toBe(`${lines[0]}\n${lines[1]}`);
  });

  it('packs one line, none, and empty lines', () => {
    expect(unpack(packLines(['{"only":true}']))).toBe('{"only":true}');
    expect(unpack(packLines([]))).toBe('');
    expect(unpack(packLines(['', '']))).toBe('\n');
  });

  it('packs a chunk larger than its reused buffer, then a small one with nothing left over from the large one', () => {
    const long = Array.from({ length: 128 }, (_, i) => JSON.stringify({ i, pad: `${'é'.repeat(3000)}${'z'.repeat(6000)}` }));
    expect(long.reduce((n, l) => n + Buffer.byteLength(l), 0)).toBeGreaterThan(1 << 20);
    expect(unpack(packLines(long))).toBe(long.join('\n'));
    expect(unpack(packLines(['{"small":1}', Buffer.from('{"small":2}')]))).toBe('{"small":1}\n{"small":2}');
  });
});
