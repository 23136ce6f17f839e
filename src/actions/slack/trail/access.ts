import type { SlackPort } from '../../../integrations/slack/port.ts';

/**
 * Who may use `/trail` (and its buttons): the users, user groups and channels listed under
 * `slack.trail.allow` in trailbot.config.yaml. `/trail` shows what people did, so the default is
 * nobody: no allow-list, no answers. A user is allowed when listed, when a member of a listed user
 * group (usergroups.users.list through SlackPort, cached for `ttlMs`), or when asking from a listed
 * channel. A user group that cannot be read just now (Slack down, too slow, a missing scope) refuses
 * rather than allows, and is asked again next time.
 *
 * A process without a Slack client (the web role usually holds no SLACK_BOT_TOKEN) cannot read user
 * groups: when only a user group could allow someone, its verdict is `unknown`. The `/trail`
 * listener then queues the answer and the worker, which checks again with its client, decides: the
 * activity is only ever shown after a check that said yes.
 */

export interface TrailAllow {
  users: string[];
  usergroups: string[];
  channels: string[];
}

export type AccessVerdict =
  | { allowed: true; by: 'user' | 'channel' | 'usergroup'; usergroup?: string | undefined }
  | { allowed: false; why: 'no-allow-list' | 'not-listed' | 'lookup-failed'; detail?: string | undefined }
  /** Only a user group could allow them, and this process cannot read user groups. */
  | { allowed: 'unknown'; why: 'no-slack-client'; detail?: undefined };

export interface TrailAccess {
  check(who: { userId: string; channelId?: string | undefined }): Promise<AccessVerdict>;
  /** Whether anybody at all may use it (an allow-list with at least one entry). */
  readonly configured: boolean;
}

export interface TrailAccessOptions {
  allow: TrailAllow | undefined;
  /** Reads user groups; without it, only users and channels can be allowed. */
  slack?: Pick<SlackPort, 'usergroupMembers'> | undefined;
  /** How long a user group's members are trusted (default 5 minutes). */
  ttlMs?: number;
  /** How long a user group's lookup may take before the answer is "cannot tell": refused (default 1.5 s, inside Slack's 3 s). */
  timeoutMs?: number;
  now?: () => number;
}

export const ACCESS_TTL_MS = 5 * 60_000;
export const ACCESS_LOOKUP_TIMEOUT_MS = 1500;

export function trailAccess({ allow, slack, ttlMs = ACCESS_TTL_MS, timeoutMs = ACCESS_LOOKUP_TIMEOUT_MS, now = Date.now }: TrailAccessOptions): TrailAccess {
  const users = new Set(allow?.users ?? []);
  const channels = new Set(allow?.channels ?? []);
  const groups = allow?.usergroups ?? [];
  const configured = users.size + channels.size + groups.length > 0;
  const cache = new Map<string, { members: Set<string>; at: number }>();
  // One lookup per group at a time: 50 commands at once ask Slack once.
  const inflight = new Map<string, Promise<Set<string>>>();

  const members = (group: string): Promise<Set<string>> => {
    const hit = cache.get(group);
    if (hit && now() - hit.at < ttlMs) return Promise.resolve(hit.members);
    let p = inflight.get(group);
    if (!p) {
      if (!slack) return Promise.reject(new Error('no Slack client on this process (SLACK_BOT_TOKEN is not set)'));
      p = (async () => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const list = await Promise.race([
            slack.usergroupMembers(group),
            new Promise<never>((_, reject) => {
              timer = setTimeout(() => reject(new Error(`usergroups.users.list took longer than ${timeoutMs} ms`)), timeoutMs);
            }),
          ]);
          const set = new Set(list);
          cache.set(group, { members: set, at: now() });
          return set;
        } finally {
          clearTimeout(timer);
          inflight.delete(group);
        }
      })();
      inflight.set(group, p);
    }
    return p;
  };

  return {
    configured,
    async check({ userId, channelId }) {
      if (!configured) return { allowed: false, why: 'no-allow-list' };
      if (users.has(userId)) return { allowed: true, by: 'user' };
      if (channelId && channels.has(channelId)) return { allowed: true, by: 'channel' };
      if (groups.length > 0 && !slack) return { allowed: 'unknown', why: 'no-slack-client' };
      let failed: string | undefined;
      for (const g of groups) {
        try {
          if ((await members(g)).has(userId)) return { allowed: true, by: 'usergroup', usergroup: g };
        } catch (e) {
          failed ??= `user group ${g}: ${e instanceof Error ? e.message : String(e)}`;
        }
      }
      return failed ? { allowed: false, why: 'lookup-failed', detail: failed } : { allowed: false, why: 'not-listed' };
    },
  };
}
