-- The findings feed's cursor (listFindings({ after }), GET /api/findings?after=): every write to a
-- finding gives it the next number of findings_seq, and a reader asks for the numbers above the last
-- one it saw. A sequence alone would not do: a transaction that took 10 can commit after one that
-- took 11, and a reader that saw 11 would never see 10. So every write takes its number while holding
-- the findings lock (pg_advisory_xact_lock(727275), src/flows/store.ts lockFindings) until it
-- commits: numbers become visible in the order they were taken. No default: an INSERT that does
-- not take a number under the lock fails rather than slip a change past the readers.
CREATE SEQUENCE findings_seq;
ALTER TABLE findings ADD COLUMN seq bigint;
UPDATE findings f SET seq = o.n FROM (SELECT id, row_number() OVER (ORDER BY updated_at, id) AS n FROM findings) o WHERE f.id = o.id;
SELECT setval('findings_seq', (SELECT coalesce(max(seq), 0) + 1 FROM findings), false);
ALTER TABLE findings ALTER COLUMN seq SET NOT NULL;
ALTER SEQUENCE findings_seq OWNED BY findings.seq;
CREATE UNIQUE INDEX findings_seq_key ON findings (seq);
