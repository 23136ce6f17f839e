// A local Jira Cloud stand-in: REST v3 as trailbot uses it, checked as Jira checks it, on one port.
// Test and dev tooling only (its ADF validator needs devDependencies): import it from tests and the CLI.
import { listen } from '../../aws/standins/shared.ts';
import type { ListenOptions } from '../../aws/standins/shared.ts';
import { createJiraService } from './service.ts';
import type { JiraService, JiraServiceOptions } from './service.ts';

export * from './adf.ts';
export * from './faults.ts';
export * from './jql.ts';
export * from './service.ts';
export * from './site.ts';
export * from './webhooks.ts';

export interface JiraStandinOptions extends JiraServiceOptions, ListenOptions {
  /** the site URL in `self` links and serverInfo (default the listening URL) */
  baseUrl?: string;
  /** the project trailbot files into, printed as JIRA_PROJECT (default the first project's key) */
  project?: string;
}

export interface JiraStandin extends JiraService {
  url: string;
  port: number;
  /** JIRA_BASE_URL, JIRA_EMAIL, JIRA_API_TOKEN, JIRA_PROJECT (and JIRA_WEBHOOK_SECRET when a webhook has a secret) */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export async function startJiraStandin(opts: JiraStandinOptions = {}): Promise<JiraStandin> {
  const svc = createJiraService(opts);
  const listener = await listen((req) => svc.handle(req), opts);
  svc.baseUrl = opts.baseUrl ?? listener.url;
  const project = opts.project ?? svc.site.projects[0]?.key ?? 'SEC';
  return Object.assign(svc, {
    url: listener.url,
    port: listener.port,
    env(): Record<string, string> {
      const secret = svc.webhooks.registrations.find((w) => w.secret)?.secret;
      return {
        JIRA_BASE_URL: listener.url,
        JIRA_EMAIL: svc.credentials.email,
        JIRA_API_TOKEN: svc.credentials.apiToken,
        JIRA_PROJECT: project,
        ...(secret ? { JIRA_WEBHOOK_SECRET: secret } : {}),
      };
    },
    async close() {
      await svc.webhooks.settled();
      await listener.close();
    },
  });
}
