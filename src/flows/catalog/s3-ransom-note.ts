import type { TrailEvent } from '../../events/model.ts';
import { defineFlow, type FlowEnv } from '../define.ts';
import { globToRegExp, isCall, isHumanOrProgram, succeeded } from '../match.ts';
import { bucketKey } from './s3-objects-mass-deleted.ts';

const ACTIONS = new Set(['PutObject', 'CopyObject', 'CompleteMultipartUpload']);

/** Ransom notes are documents for people to open: text, web pages, Markdown, or no extension at all. */
const NOTE_EXTENSION = /(?:\.(?:txt|html?|md|hta|rtf|url)|^[^.]*)$/i;

/** Compiled `noteNames` per parameter list (the list comes from configuration and rarely changes). */
let compiled: { names: readonly string[]; patterns: RegExp[] } | null = null;
function patternsOf(names: readonly string[]): RegExp[] {
  if (compiled === null || compiled.names !== names) compiled = { names, patterns: names.map(globToRegExp) };
  return compiled.patterns;
}

/** The object's file name (the key after its last `/`). */
function fileName(e: TrailEvent, env: FlowEnv): string | null {
  const key = env.request(e).str('key');
  if (key === null) return null;
  return key.slice(key.lastIndexOf('/') + 1);
}

/** Stratus' three S3 ransomware techniques (FILES-DELETED.txt, FILES-ENCRYPTED.txt); ransom note names seen in the wild. */
export const s3RansomNote = defineFlow({
  id: 's3-ransom-note',
  kind: 'single',
  severity: 'critical',
  description: 'An object named like a ransom note (FILES-ENCRYPTED.txt, HOW_TO_DECRYPT …) was written to an S3 bucket (S3 data events).',
  runbook: 'Open the note, then check the bucket for deleted or re-encrypted objects and who wrote the note; stop that principal, restore from versions or backups, and bring in incident response before answering anyone.',
  falsePositives: ['Security teams rehearsing ransomware (Stratus Red Team, tabletop exercises).'],
  references: ['stratus: aws.impact.s3-ransomware-batch-deletion', 'stratus: aws.impact.s3-ransomware-individual-deletion', 'stratus: aws.impact.s3-ransomware-client-side-encryption'],
  params: {
    // Case-insensitive globs on the file name (`*` matches anything).
    noteNames: ['*ransom*', '*files*encrypted*', '*files*deleted*', 'how*to*decrypt*', 'how*to*restore*', 'how*to*recover*', '*decrypt*instruction*', '*recover*your*files*', '*restore*your*files*', '*decrypt*your*files*', '*your*files*are*'],
  },
  dedupPeriod: '24h',
  allow: [],
  actions: [...ACTIONS],
  needsRequest: true,
  match: (e, p, env) => {
    if (!succeeded(e) || !isCall(e, 's3', ACTIONS) || !isHumanOrProgram(e)) return false;
    const name = fileName(e, env);
    if (name === null || !NOTE_EXTENSION.test(name)) return false;
    for (const re of patternsOf(p.noteNames)) if (re.test(name)) return true;
    return false;
  },
  // One finding per bucket: a note dropped in many buckets is a finding in each.
  key: (e, _p, env) => bucketKey(e, env),
  context: (e, _p, env) => ({ bucket: bucketKey(e, env).split('|')[1] ?? null, note: env.request(e).str('key') }),
});
