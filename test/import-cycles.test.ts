import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * No import cycles among trailbot's modules: a module's static imports (`import … from`, `import type`,
 * `export … from`) never lead back to it. A dynamic `import()` is how a module loads another at run time
 * only when needed (the CLI loads src/main.ts for `serve`), so it is not counted. Pure: reads files only.
 */
const ROOT = join(import.meta.dirname, '..');
const STATIC_IMPORT = /^\s*(?:import|export)\b[^;'"`]*?\bfrom\s+'([^']+)'|^\s*import\s+'([^']+)'/gm;

function modules(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, withFileTypes: true })
    .filter((f) => f.isFile() && f.name.endsWith('.ts'))
    .map((f) => relative(ROOT, join(f.parentPath, f.name)));
}

/** Each module's static imports of other modules of the tree (relative specifiers only). */
function importGraph(files: string[]): Map<string, string[]> {
  const known = new Set(files);
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(STATIC_IMPORT)) {
      const spec = m[1] ?? m[2]!;
      if (!spec.startsWith('.')) continue;
      const target = relative(ROOT, resolve(ROOT, dirname(file), spec));
      if (known.has(target)) deps.add(target);
    }
    graph.set(file, [...deps]);
  }
  return graph;
}

/** The strongly connected components of more than one module, or of one that imports itself (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('imports', () => {
  it('form no cycles in src, bench and test', () => {
    const graph = importGraph([...modules('src'), ...modules('bench'), ...modules('test')]);
    expect(graph.size).toBeGreaterThan(300);
    expect(cycles(graph)).toEqual([]);
  });

  it('a cycle is found when there is one (the check itself)', () => {
    const graph = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
      ['e.ts', ['e.ts']],
    ]);
    expect(cycles(graph)).toEqual([['a.ts', 'b.ts', 'c.ts'], ['e.ts']]);
  });

  it('reads multi-line, type-only and re-export imports, and skips dynamic ones', () => {
    const text = "import {\n  a,\n  b,\n} from './x.ts';\nimport type { T } from './y.ts';\nexport { c } from './z.ts';\nimport './side.ts';\nconst m = await import('./late.ts');\n";
    const specs = [...text.matchAll(STATIC_IMPORT)].map((m) => m[1] ?? m[2]);
    expect(specs).toEqual(['./x.ts', './y.ts', './z.ts', './side.ts']);
  });
});
