/**
 * How the benchmarks print what they measured, one way for all of them: counts with thousands
 * separators, percentiles, the machine line each starts with, and the Markdown table each ends with.
 */
import { cpus, loadavg } from 'node:os';

/** A count or a rate, rounded, with thousands separators: `12,345`. */
export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** The p-th percentile (0–100) of numbers sorted ascending, by nearest rank; NaN when there are none. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Node's version, the cores and the load average: other work on the machine lowers every figure. */
export function machineLine(): string {
  return `node ${process.version}, ${cpus().length} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} (other work on the machine lowers every figure)`;
}

/** Rows kept as they are measured and printed together at the end, as one Markdown table. */
export class MarkdownTable {
  readonly columns: readonly string[];
  readonly rows: string[][] = [];
  constructor(columns: readonly string[]) {
    this.columns = columns;
  }
  add(row: string[]): void {
    this.rows.push(row);
  }
  /** After a blank line: the header (an empty column name stays empty), the rule, a line a row. */
  print(): void {
    console.log(`\n|${this.columns.map((c) => (c ? ` ${c} ` : ' ')).join('|')}|\n|${this.columns.map(() => '---|').join('')}`);
    for (const r of this.rows) console.log(`| ${r.join(' | ')} |`);
  }
}

export interface TargetReport {
  /** Prints `  what: value   (target …: met)` now and keeps the row; ok null: nothing to meet. */
  report(what: string, value: string, target: string, ok: boolean | null): void;
  /** The table `| measure | result | target | |` of every row reported. */
  print(): void;
}

/** Measures next to their targets: each printed as it is measured, then all of them in one table. */
export function targetReport(): TargetReport {
  const table = new MarkdownTable(['measure', 'result', 'target', '']);
  return {
    report(what, value, target, ok) {
      table.add([what, value, target, ok === null ? '' : ok ? 'met' : 'NOT MET']);
      console.log(`  ${what}: ${value}${target ? `   (target ${target}${ok === null ? '' : `: ${ok ? 'met' : 'NOT met'}`})` : ''}`);
    },
    print: () => table.print(),
  };
}
