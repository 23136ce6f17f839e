-- A smaller event row (issue 14: ≤ 1.2 KB per event, indexes included). Measured on bench:ingest's
-- 200,000 events before this migration: 2,052 B an event, of which the row 1,064 B, the raw records'
-- chunks 315 B and eleven indexes 672 B.
--
-- 1. The row keeps only what SQL filters, sorts, groups or joins on (time, account, region, service,
--    action, read-only, event type, outcome, via, the actor's key, type, name, e-mail and access key,
--    the resources' keys and the primary resource). Everything else of the normalized event (user agent,
--    source address, the actor's ARN and ids, error text, the resources' list, the tool…) goes, as one
--    JSON line, into the event's chunk beside its raw record: a chunk now holds its events' detail lines
--    (`details`) and raw records (`packed`), each compressed by trailbot with Brotli (format 2,
--    src/store/chunks.ts), ~1.6× smaller than PostgreSQL's lz4 did the records alone.
--    Rows stored before keep their columns and their chunks (format 1, `records`), read as before.
-- 2. The five (column, time) indexes the dashboard's facets used (migration 020) become one GIN index
--    over the five columns (btree_gin): ~30 B an event instead of ~350 B. A facet filter is served by
--    it when the value is rare, and along events_time when it is common.
-- 3. Resource types and resource ARNs are searched through events_resource_keys, as tokens beside the
--    resource ids: `\x1et` + type, `\x1ea` + the first 16 hex digits of md5(lower(ARN)). The rows stored
--    before get theirs from their `resources` column here.
--
-- The upgrade changes no event's id, time or fields; the legacy rows' resource_keys are rewritten once.
CREATE EXTENSION IF NOT EXISTS btree_gin;

ALTER TABLE raw_chunks ALTER COLUMN records DROP NOT NULL;
ALTER TABLE raw_chunks ADD COLUMN details bytea;
ALTER TABLE raw_chunks ADD COLUMN packed bytea;
-- Already compressed: PostgreSQL should store them as they are, not try to compress them again.
ALTER TABLE raw_chunks ALTER COLUMN details SET STORAGE EXTERNAL;
ALTER TABLE raw_chunks ALTER COLUMN packed SET STORAGE EXTERNAL;

-- New rows leave the detail columns NULL (a NULL is a bit in the row's null bitmap).
ALTER TABLE events ALTER COLUMN resources DROP NOT NULL;
ALTER TABLE events ALTER COLUMN resources DROP DEFAULT;
ALTER TABLE events ALTER COLUMN primary_named DROP NOT NULL;
ALTER TABLE events ALTER COLUMN primary_named DROP DEFAULT;
ALTER TABLE events ALTER COLUMN derived_id DROP NOT NULL;
ALTER TABLE events ALTER COLUMN derived_id DROP DEFAULT;

DROP INDEX IF EXISTS events_service_time;
DROP INDEX IF EXISTS events_account_time;
DROP INDEX IF EXISTS events_region_time;
DROP INDEX IF EXISTS events_outcome_time;
DROP INDEX IF EXISTS events_via_time;
CREATE INDEX events_facets ON events USING gin (account, region, service, outcome, via);

-- The person's index on a 64-bit hash of the actor's key (~90 B keys: ~220 B an event as a b-tree
-- entry, ~40 B hashed). Queries say `hashtextextended(actor_key, 0) = hashtextextended($k, 0) AND
-- actor_key = $k` (src/store/queries.ts).
DROP INDEX IF EXISTS events_actor_time;
CREATE INDEX events_actor_hash_time ON events (hashtextextended(actor_key, 0), time DESC);

-- The type and ARN tokens of the rows stored before (and their ids, should a row lack them).
UPDATE events e SET resource_keys = ARRAY(SELECT DISTINCT k FROM unnest(e.resource_keys || t.tokens) AS k)
  FROM (
    SELECT x.event_id, x.time, array_agg(DISTINCT tok) AS tokens
      FROM events x
      CROSS JOIN LATERAL jsonb_array_elements(x.resources) r
      CROSS JOIN LATERAL unnest(ARRAY[
        lower(r->>'id'),
        CASE WHEN r->>'type' IS NOT NULL THEN E'\x1et' || (r->>'type') END,
        CASE WHEN r->>'arn' IS NOT NULL THEN E'\x1ea' || left(md5(lower(r->>'arn')), 16) END
      ]) tok
     WHERE x.resources IS NOT NULL AND jsonb_array_length(x.resources) > 0 AND tok IS NOT NULL
     GROUP BY x.event_id, x.time
  ) t
 WHERE e.event_id = t.event_id AND e.time = t.time;
