import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { parse } from 'yaml';

/**
 * Loads the words and templates that live in this folder. Every sentence trailbot writes comes from
 * a `.hbs` file or `words.yaml` here; code only builds the data the templates read.
 */
const dir = import.meta.dirname;

export function readTemplate(relPath: string): string {
  return readFileSync(join(dir, relPath), 'utf8').replace(/\n$/, '');
}

export interface Words {
  verbs: Record<string, [string, string]>;
  actions: Record<string, { base: string; past: string; failed?: string; object?: boolean; named?: boolean }>;
  resourceTypes: Record<string, string>;
  tools: Record<string, string>;
  vias: Record<string, string>;
  deniedBy: Record<string, string>;
}

let words: Words | undefined;
export function loadWords(): Words {
  words ??= parse(readTemplate('words.yaml')) as Words;
  return words;
}

/** A Handlebars environment for plain text (no HTML escaping): summaries, titles, Markdown. */
export function textEnv(): typeof Handlebars {
  const env = Handlebars.create();
  env.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  return env;
}

export function compileText(env: typeof Handlebars, source: string): Handlebars.TemplateDelegate {
  return env.compile(source, { noEscape: true, strict: false, preventIndent: true });
}
