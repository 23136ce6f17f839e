import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import AjvDraft04 from 'ajv-draft-04';
import { describe, expect, it } from 'vitest';
import { POSITIVE } from '../../test/fixtures/flows/cases.ts';
import { findings, record, replay, toEvent } from '../../test/fixtures/flows/load.ts';
import { compileFlows } from './compile.ts';
import { parseFlowsConfig } from './config.ts';
import { defineFlow } from './define.ts';
import { Detector } from './detector.ts';
import { hasOwnTemplate, slackEscape } from './render.ts';
import { FLOWS } from './registry.ts';

const require = createRequire(import.meta.url);
const schema = JSON.parse(readFileSync(require.resolve('@atlaskit/adf-schema/json-schema/v1/full.json'), 'utf8')) as object;
// ajv-draft-04 is CommonJS: under NodeNext its default import is the module, whose `default` is the class.
const Ajv = (AjvDraft04 as unknown as { default: typeof AjvDraft04.default }).default;
const ajv = new Ajv({ allErrors: true, strict: false });
const validateAdf = ajv.compile(schema);

describe('every flow in the catalog', () => {
  it('has a recorded positive case and its own title template', () => {
    for (const f of FLOWS) {
      expect(POSITIVE[f.id], f.id).toBeTypeOf('function');
      expect(hasOwnTemplate(f.id), f.id).toBe(true);
    }
  });

  for (const f of FLOWS) {
    it(`${f.id}: renders words, Slack mrkdwn and a valid Jira document`, () => {
      const { records, config } = POSITIVE[f.id]!();
      const found = findings(records, f.id, config);
      expect(found.length, f.id).toBeGreaterThan(0);
      for (const x of found) {
        expect(validateAdf(x.jira), JSON.stringify(validateAdf.errors)).toBe(true);
        expect(x.title).not.toMatch(/undefined|\[object|\{\{/);
        expect(x.body).toContain(`Why it matters: `);
        expect(x.body).toContain(`What to do next: ${f.runbook}`);
        for (const label of ['Who:', 'What:', 'Where:', 'How:', 'When:', 'How often:']) expect(x.body).toContain(label);
        expect(x.slack).not.toMatch(/<(?![@#!]|https?:)/);
        expect(x.body).toContain(x.eventIds[0]);
      }
    });
  }
});

describe('templates', () => {
  it("escapes Slack's three special characters in data, not in its own formatting", () => {
    expect(slackEscape('a & b <script> > c')).toBe('a &amp; b &lt;script&gt; &gt; c');
    const raw = record('records/writes-iam.json', 'UploadSSHPublicKey');
    (raw.userIdentity as Record<string, unknown>).userName = 'Alice <admin> & co';
    (raw.userIdentity as Record<string, unknown>).arn = 'arn:aws:iam::0123456789012:user/Alice <admin> & co';
    const f = findings([raw], 'clickops')[0]!;
    expect(f.slack).toContain('Alice &lt;admin&gt; &amp; co');
    expect(f.slack).toMatch(/^\*Changed by hand in the console: /);
    expect(f.title).toContain('Alice <admin> & co');
  });

  it('renders a flow without its own template with the generic title and its description', () => {
    const custom = defineFlow({
      id: 'brand-new-flow',
      kind: 'single',
      severity: 'low',
      description: 'Someone ran a command on an instance through SSM.',
      runbook: 'Check the command.',
      params: {},
      dedupPeriod: '1h',
      allow: [],
      actions: ['SendCommand'],
      match: (e) => e.outcome === 'success',
      key: (e) => e.account ?? 'unknown',
    });
    const c = compileFlows(parseFlowsConfig({}), [custom]);
    const d = new Detector(parseFlowsConfig({}), c);
    d.push([toEvent(record('records/stratus-aws.execution.ssm-send-command.json', 'SendCommand'))]);
    const [f] = d.findings();
    expect(hasOwnTemplate('brand-new-flow')).toBe(false);
    expect(f!.title).toMatch(/^brand-new-flow: christophe ran a command on /);
    expect(f!.body).toContain('Why it matters: Someone ran a command on an instance through SSM.');
    expect(validateAdf(f!.jira)).toBe(true);
  });

  it('says how often, and shortens long event lists in every format', () => {
    const f = findings(replay(record('records/writes-iam.json', 'UploadSSHPublicKey'), 30, 60), 'clickops-burst')[0]!;
    expect(f.summary).toMatch(/It happened 30 times between 2020-01-10 16:06:40 and 2020-01-10 16:35:40 UTC\.$/);
    expect(f.body).toContain('How often: 30 events (more than 20 within 24 hours is the limit)');
    expect(f.body).toContain('and 10 more');
    expect(JSON.stringify(f.jira)).toContain('and 10 more');
    expect(validateAdf(f.jira)).toBe(true);
  });
});
