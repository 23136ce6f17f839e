import { readFileSync } from 'node:fs';

/** trailbot's version: package.json's, the one place it is written (the CLI's --version, GET / and /healthz). A leaf. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
