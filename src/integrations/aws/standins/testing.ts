// Small helpers for tests that drive real SDK clients against the stand-ins.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_BASE_CREDENTIALS } from './credentials.ts';
import { parseRecordsText } from './records.ts';
import type { CloudTrailRecord } from './records.ts';

export interface ClientCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export const BASE_CLIENT_CREDENTIALS: ClientCredentials = {
  accessKeyId: DEFAULT_BASE_CREDENTIALS.accessKeyId,
  secretAccessKey: DEFAULT_BASE_CREDENTIALS.secretAccessKey,
};

/** Config for any @aws-sdk client pointed at a stand-in (S3 needs forcePathStyle with an IP endpoint anyway). */
export function clientConfig(
  endpoint: string,
  { region = 'us-east-1', credentials = BASE_CLIENT_CREDENTIALS, maxAttempts }: { region?: string; credentials?: ClientCredentials; maxAttempts?: number } = {},
): { endpoint: string; region: string; credentials: ClientCredentials; forcePathStyle: true; maxAttempts?: number } {
  const cfg: { endpoint: string; region: string; credentials: ClientCredentials; forcePathStyle: true; maxAttempts?: number } = { endpoint, region, credentials, forcePathStyle: true };
  if (maxAttempts !== undefined) cfg.maxAttempts = maxAttempts;
  return cfg;
}

/** Absolute path of a file in test/fixtures/standins/. */
export const fixturePath = (name: string): string => fileURLToPath(new URL(`../../../../test/fixtures/standins/${name}`, import.meta.url));

export const loadFixtureRecords = (name: string): CloudTrailRecord[] => parseRecordsText(readFileSync(fixturePath(name), 'utf8'));
