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

  it('packs chunks larger than its reused buffer (grown, and past the most it grows to), each followed by a small one with nothing left over', () => {
    const records = (chars: number): string[] => Array.from({ length: 128 }, (_, i) => JSON.stringify({ i, pad: `${'é'.repeat(chars / 3)}${'z'.repeat((chars * 2) / 3)}` }));
    // 128 × 4,500 characters: past the first 1 MiB, within the 4 MiB it may grow to (room is 3 bytes a character).
    // 128 × 15,000: 5.8 MB of room, a buffer of its own.
    for (const long of [records(4500), records(15_000), records(4500)]) {
      expect(unpack(packLines(long))).toBe(long.join('\n'));
      expect(unpack(packLines(long.map((l) => Buffer.from(l))))).toBe(long.join('\n'));
      expect(unpack(packLines(['{"small":1}', Buffer.from('{"small":2}')]))).toBe('{"small":1}\n{"small":2}');
    }
  });
});
