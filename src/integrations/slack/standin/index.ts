// A local Slack stand-in: the Web API methods trailbot uses, checked as Slack checks them, response_url
// receivers that record what trailbot posts, and the Slack side of the conversation (signed commands and
// button clicks sent to trailbot). Test and dev tooling: import it from tests, benches and the CLI.
import { listen } from '../../aws/standins/shared.ts';
import type { ListenOptions } from '../../aws/standins/shared.ts';
import { type Conversation, createConversation } from './conversation.ts';
import { createSlackService } from './service.ts';
import type { SlackService, SlackServiceOptions } from './service.ts';

export * from './blocks.ts';
export * from './conversation.ts';
export * from './faults.ts';
export * from './service.ts';

export interface SlackStandinOptions extends SlackServiceOptions, ListenOptions {}

export interface SlackStandin extends SlackService, Conversation {
  /** http://127.0.0.1:<port> */
  url: string;
  port: number;
  /** SLACK_API_URL (<url>/api), SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export async function startSlackStandin(opts: SlackStandinOptions = {}): Promise<SlackStandin> {
  const svc = createSlackService(opts);
  const listener = await listen(async (req) => svc.app.fetch(req), opts);
  svc.baseUrl = listener.url;
  return Object.assign(svc, createConversation(svc), {
    url: listener.url,
    port: listener.port,
    env: () => ({ SLACK_API_URL: `${listener.url}/api`, SLACK_BOT_TOKEN: svc.token, SLACK_SIGNING_SECRET: svc.signingSecret }),
    close: () => listener.close(),
  });
}
