import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { MANIFEST_SCOPES } from './standin/service.ts';

/** slack/manifest.yaml: what the Slack app is created from (README.md, "Slack"). */
const manifest = parse(readFileSync(join(import.meta.dirname, '../../../slack/manifest.yaml'), 'utf8')) as {
  display_information: { name: string; description: string };
  features: { bot_user: { display_name: string }; slash_commands: { command: string; url: string; usage_hint: string; description: string }[] };
  oauth_config: { scopes: { bot: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string }; socket_mode_enabled: boolean };
};

describe('slack/manifest.yaml', () => {
  it('declares /trail and interactivity on the one route, POST /slack/events, over HTTPS', () => {
    const [trail, ...others] = manifest.features.slash_commands;
    expect(others).toEqual([]);
    expect(trail!.command).toBe('/trail');
    expect(trail!.url).toMatch(/^https:\/\/[^/]+\/slack\/events$/);
    expect(manifest.settings.interactivity).toEqual({ is_enabled: true, request_url: trail!.url });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
    expect(manifest.features.bot_user.display_name).toBe('trailbot');
  });

  it("the usage hint spells the command's grammar", () => {
    const hint = manifest.features.slash_commands[0]!.usage_hint;
    for (const part of ['<who>', '24h', '7d', '30d', 'since YYYY-MM-DD', 'between YYYY-MM-DD and YYYY-MM-DD', 'writes', 'denied', 'console', 'region:<r>', 'service:<s>', 'account:<id>', 'live', 'help']) expect(hint).toContain(part);
  });

  it('asks for exactly the bot scopes the stand-in grants by default (what trailbot uses)', () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([...MANIFEST_SCOPES].sort());
  });
});
