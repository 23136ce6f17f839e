import { z } from 'zod';

/**
 * A Slack channel as trailbot.config.yaml names it: `"#security"` (a name, in quotes: YAML reads an
 * unquoted # as a comment) or a channel id such as `C0123ABCD` (G… for older private channels).
 * Shared by `routing.slack` and `reports[].slack`; pure (zod only), so the config reader can use it.
 */
export const slackChannel = z
  .string({ error: 'expected a Slack channel, e.g. "#security" (in quotes: YAML reads # as a comment)' })
  .regex(/^#[a-z0-9_-]{1,80}$|^[CG][A-Z0-9]{8,}$/, 'expected a Slack channel name such as "#security" (lower-case, in quotes) or a channel id such as C0123ABCD');

/** `reports[].slack`: where a scheduled report is delivered. */
export const reportSlack = z.strictObject({ channel: slackChannel }, { error: 'expected Slack settings, e.g. { channel: "#security" }' });
