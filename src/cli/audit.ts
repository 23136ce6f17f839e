import { type AuditRecord, listAudit } from '../actions/approvals/store.ts';
import type { Cli } from './common.ts';
import { throughServer } from './remote.ts';
import { withStore } from './store.ts';
import { parseLimit } from './time.ts';

/**
 * A cell as plain text: control characters (C0, DEL, C1) shown as `\xNN`. Some values come from outside
 * (a refused sign-in's reason is the provider's `error` from the callback's query string, which anyone
 * may send): an escape sequence in them must not reach the operator's terminal.
 */
export function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** What an entry is about, in a few words: the reason of a refusal, the outcome of an action, the link viewed. */
function what(e: AuditRecord): string {
  const d = (e.detail ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  if (typeof d.reason === 'string') parts.push(d.reason);
  if (typeof d.kind === 'string') parts.push(d.kind);
  if (typeof d.link === 'string') parts.push(`${d.link} link`);
  if (typeof d.approval === 'number' && typeof d.of === 'number') parts.push(`approval ${d.approval} of ${d.of}`);
  if (typeof d.jira === 'string') parts.push(`Jira ${d.jira}`);
  if (typeof d.slack === 'string') parts.push('Slack thread');
  if (Array.isArray(d.notDone) && d.notDone.length) parts.push(`${d.notDone.length} not done`);
  // A coalesced entry of someone not signed in: how many came from there for that reason in its minute.
  if (e.count > 1) parts.push(`×${e.count} in that minute${e.lastAt ? `, the last at ${e.lastAt.slice(11, 19)}` : ''}`);
  return parts.join(', ');
}

/** Registers `audit`: the approvals' audit log, from the store (or a running serve holding it). */
export function registerAuditCommands(cli: Cli): void {
  cli.program
    .command('audit')
    .description('The approvals audit log, newest first: every proposal, view, sign-in, approval, refusal and action, with who, when and from where')
    .option('--json', 'print JSON (one array; each entry with its detail)')
    .option('--approval <id>', 'only the entries of this approval')
    .option('--finding <id>', 'only the entries of this finding')
    .option('--action <action>', 'only this action: proposed, viewed, signed-in, signed-out, sign-in-refused, approved, dismissed, refused, executed, told')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (opts: { json?: boolean; approval?: string; finding?: string; action?: string; limit: string }) => {
      const q = { approvalId: opts.approval, findingId: opts.finding, action: opts.action, limit: parseLimit(opts.limit, '--limit', 1000) };
      const api = await throughServer(cli);
      const entries = api ? await api.audit(q) : await withStore(cli, (store) => listAudit(store.db, q), { throughServe: true });
      if (opts.json) {
        cli.io.out(`${JSON.stringify(entries, null, 2)}\n`);
        return;
      }
      if (entries.length === 0) {
        cli.io.err('trailbot: the audit log is empty (approvals write to it: see "Approvals" in README.md)\n');
        return;
      }
      const rows = entries.map((e) => [e.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.action, e.actor ?? '-', e.ip ?? '-', e.outcome ?? '-', e.target ?? '-', what(e)].map(printable));
      const heads = ['TIME', 'ACTION', 'WHO', 'FROM', 'OUTCOME', 'TARGET', 'WHAT'];
      const widths = heads.map((h, i) => (i === heads.length - 1 ? 0 : Math.max(h.length, ...rows.map((r) => r[i]!.length))));
      cli.io.out(`${heads.map((h, i) => pad(h, widths[i]!)).join('  ').trimEnd()}\n`);
      for (const r of rows) cli.io.out(`${r.map((c, i) => pad(c, widths[i]!)).join('  ').trimEnd()}\n`);
    });
}
