/**
 * The narrow interface trailbot's Slack work (src/actions/slack) uses to talk to Slack's Web API.
 * The real implementation (client.ts) has Bolt's WebClient (@slack/web-api, which @slack/bolt
 * depends on) inside; tests drive it against the Slack stand-in (standin/). Nothing outside
 * src/integrations/slack imports @slack/web-api or @slack/bolt, except the receiver of Slack's
 * requests (src/http/slack-events.ts), which hosts Bolt's App for the listeners.
 *
 * Errors: every method throws a TrailbotError whose code says what to do:
 * - E_SLACK_RATE_LIMITED: Slack answered 429; `retryAfterMs` (from Retry-After, seconds) says when
 *   to try again. The queue retries the job after that delay without using an attempt.
 * - E_SLACK_UNAVAILABLE: 5xx or a network error; retried with backoff.
 * - E_SLACK_REJECTED: `ok:false` with an error retrying cannot fix (channel_not_found,
 *   not_in_channel, invalid_blocks, msg_too_long, …); the message carries Slack's error code and
 *   the hint the setting or action that fixes it. Fails the job at once.
 * - E_SLACK_AUTH: invalid_auth, not_authed, token_revoked, missing_scope (the hint names
 *   SLACK_BOT_TOKEN or the scope to add in slack/manifest.yaml). Fails the job at once.
 */

/** A Block Kit block, as Slack takes it (kept loose: the builders in src/actions/slack make them). */
export type SlackBlock = Record<string, unknown>;

export interface SlackMessage {
  /** The fallback text (notifications, screen readers); required by Slack alongside blocks. */
  text: string;
  blocks?: SlackBlock[] | undefined;
}

export interface PostedMessage {
  /** The channel id Slack answered with (C…), whatever name was asked. */
  channel: string;
  /** The message's timestamp: its id within the channel, and the thread_ts of its replies. */
  ts: string;
}

/** A message trailbot may have posted earlier, found again by the metadata it carried. */
export interface FoundMessage extends PostedMessage {
  /** The message's metadata.event_payload, as posted. */
  payload: Record<string, unknown>;
}

export interface SlackPort {
  /**
   * chat.postMessage to a channel (id or #name), in a thread when `threadTs` is given. `metadata`
   * becomes Slack message metadata `{event_type, event_payload}` so a retry can find the message
   * again (findByMetadata) instead of posting twice.
   */
  post(
    channel: string,
    message: SlackMessage,
    opts?: { threadTs?: string | undefined; metadata?: { eventType: string; payload: Record<string, unknown> } | undefined },
  ): Promise<PostedMessage>;
  /** chat.update of a message trailbot posted. */
  update(channel: string, ts: string, message: SlackMessage): Promise<void>;
  /**
   * The newest messages of the channel since `oldest` (conversations.history with
   * include_all_metadata) whose metadata event_type is `eventType` and whose payload has every
   * key/value of `match`; newest first. With `threadTs`, the replies in that message's thread
   * instead (conversations.replies with include_all_metadata: history does not show replies).
   */
  findByMetadata(channel: string, eventType: string, match: Record<string, string>, oldest?: string, opts?: { threadTs?: string | undefined }): Promise<FoundMessage[]>;
  /** The user ids of a user group (usergroups.users.list). */
  usergroupMembers(usergroupId: string): Promise<string[]>;
  /** Uploads a file into a channel with a short comment (files.getUploadURLExternal, the upload, files.completeUploadExternal). */
  uploadFile(channel: string, file: { filename: string; content: Uint8Array | string; title?: string | undefined; comment?: string | undefined }): Promise<{ fileId: string }>;
  /** The bot's own identity (auth.test): checks the token; `config check --connect` uses it. */
  whoami(): Promise<{ teamId: string; userId: string; botId?: string | undefined }>;
}

/**
 * Posting to a command's or a button's `response_url` (not a Web API call: no token, the URL is
 * the credential). Only URLs Slack issues are accepted (https://hooks.slack.com/…, or the origin
 * of SLACK_API_URL for the stand-in); anything else is refused (E_INPUT_SHAPE) so a forged request
 * cannot make trailbot post data elsewhere.
 */
export interface ResponsePort {
  respond(
    responseUrl: string,
    message: SlackMessage & { responseType?: 'ephemeral' | 'in_channel' | undefined; replaceOriginal?: boolean | undefined; deleteOriginal?: boolean | undefined },
  ): Promise<void>;
}
