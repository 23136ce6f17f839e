import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from './cli/main.ts';
import { VERSION } from './version.ts';

describe('the version', () => {
  it("is package.json's, and trailbot --version prints it", async () => {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
    let out = '';
    expect(await main(['--version'], { out: (s) => (out += s), err: () => undefined, tty: false })).toBe(0);
    expect(out.trim()).toBe(pkg.version);
  });
});
