import { Option } from 'commander';
import { listTickets, type TicketListing, type TicketState } from '../actions/jira/tickets.ts';
import { type Cli, choice } from './common.ts';
import { throughServer } from './remote.ts';
import { withStore } from './store.ts';
import { parseLimit } from './time.ts';

const STATES: readonly TicketState[] = ['intent', 'created', 'not-sent', 'failed'];

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** What the KEY column shows: the Jira key, or what happened instead. */
function keyOf(t: TicketListing): string {
  if (t.key) return t.key;
  return t.state === 'not-sent' ? 'not sent' : t.state === 'intent' ? 'creating' : 'failed';
}

/** Registers `tickets`: the Jira tickets of findings, from the store (or a running serve holding it). */
export function registerTicketsCommands(cli: Cli): void {
  cli.program
    .command('tickets')
    .description('The Jira tickets of findings: key (or "not sent" without Jira), finding, status and summary; failed ones with the reason')
    .option('--json', 'print JSON')
    .addOption(new Option('--state <state>', 'only tickets in this state: intent, created, not-sent or failed').argParser(choice(STATES)))
    .option('--limit <n>', 'at most this many, newest change first', '100')
    .action(async (opts: { json?: boolean; state?: TicketState; limit: string }) => {
      const limit = parseLimit(opts.limit, '--limit', 1000);
      const api = await throughServer(cli);
      let tickets: TicketListing[];
      if (api) tickets = await api.tickets({ state: opts.state, limit });
      else {
        tickets = await withStore(cli, (store) => listTickets(store.db, { state: opts.state, limit }), { throughServe: true });
      }
      if (opts.json) {
        cli.io.out(`${JSON.stringify(tickets, null, 2)}\n`);
        return;
      }
      if (tickets.length === 0) {
        cli.io.err('trailbot: no tickets yet (findings of severity medium or higher get one; see "Jira tickets" in README.md)\n');
        return;
      }
      const kw = Math.max(8, ...tickets.map((t) => keyOf(t).length));
      const fw = Math.max(7, ...tickets.map((t) => t.findingId.length));
      const sw = Math.max(6, ...tickets.map((t) => t.status.length));
      cli.io.out(`${pad('KEY', kw)}  ${pad('FINDING', fw)}  ${pad('STATUS', sw)}  SUMMARY\n`);
      for (const t of tickets) {
        cli.io.out(`${pad(keyOf(t), kw)}  ${pad(t.findingId, fw)}  ${pad(t.status, sw)}  ${t.summary}\n`);
        if (t.state === 'failed' && t.error) cli.io.out(`${' '.repeat(kw + 2)}why: ${t.error}\n`);
      }
    });
}
