-- A day partition's GIN indexes (events_resource_keys, events_facets) keep a small pending list.
--
-- A GIN index takes new entries into a pending list first and merges them into its tree when the list
-- passes gin_pending_list_limit (4 MB by default) or at VACUUM; the list's pages stay in the index's
-- file after the merge. One list in events_default was nothing beside its million rows; once ingest
-- makes each day's partition as it meets the day (src/store/partitions.ts), every day has two lists of
-- up to 4 MB each: 181 and 135 B an event instead of 54 and 30 for a 28,000-event day in
-- bench:ingest (total 1,380 B an event against the 1.2 KB target). 128 kB bounds that to 256 kB a day,
-- and ingest still merges in batches.
--
-- PostgreSQL cannot set an option on a partitioned index (nor would ATTACH copy one set on the parent's
-- partitions): each day partition's own GIN indexes get it, those there now and those made from here on.

CREATE FUNCTION events_gin_pending_limit(t text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  ix text;
BEGIN
  FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam
             WHERE i.indrelid = t::regclass AND a.amname = 'gin' LOOP
    EXECUTE format('ALTER INDEX %I SET (gin_pending_list_limit = 128)', ix);
  END LOOP;
END
$$;

-- The maker of day partitions (migration 026), kept as it is under another name; the new one sets the
-- option on what it made. events_day_partition (one day) calls it by name, so it goes through here too.
ALTER FUNCTION events_day_partitions(date[]) RENAME TO events_day_partitions_attach;

CREATE FUNCTION events_day_partitions(days date[], OUT parts text[], OUT moved bigint) LANGUAGE plpgsql AS $$
DECLARE
  t text;
BEGIN
  SELECT a.parts, a.moved INTO parts, moved FROM events_day_partitions_attach(days) a;
  FOREACH t IN ARRAY parts LOOP
    PERFORM events_gin_pending_limit(t);
  END LOOP;
END
$$;

-- The partitions there now, in day order (a catalog change each, no rebuild; each GIN index is locked
-- until the migration commits).
SELECT events_gin_pending_limit(c.relname)
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$'
 ORDER BY c.relname;
