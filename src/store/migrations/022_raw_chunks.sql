-- Raw records in compressed chunks (issue 14: a smaller event row). A raw record averaged ~1.66 KB of
-- the ~2.7 KB row, kept verbatim and uncompressed: PostgreSQL compresses a value only once its row
-- passes ~2 KB, and one record alone compresses poorly (~1,660 → ~900 B). Records written together
-- (a trail file's, a LookupEvents page's: the same account, region and shapes) compress well together:
-- 64 of them in one text value, one JSON record per line, which TOAST compresses (lz4 where the server
-- has it) to ~250–300 B a record. An event keeps where its record is: `raw_chunk` (the chunk's id) and
-- `raw_at` (its line, from 0). A chunk holds records of one UTC day only, and `raw_chunks` is
-- partitioned by that day like `events` (its `time` is the day's midnight), so the retention drops a
-- day's chunks with the day's events (src/store/retention.ts).
--
-- Upgrading: events stored before keep their record in `raw` (now nullable) until their day passes
-- the retention; nothing is rewritten, so the upgrade is instant and cannot lose or double an event.
-- New events have `raw` NULL (no bytes: a NULL is a bit in the row's null bitmap).
CREATE SEQUENCE raw_chunks_id_seq;

CREATE TABLE raw_chunks (
  id       bigint NOT NULL,
  time     timestamptz NOT NULL,
  records  text NOT NULL,
  PRIMARY KEY (id, time)
) PARTITION BY RANGE (time);
DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)) THEN ALTER TABLE raw_chunks ALTER COLUMN records SET COMPRESSION lz4; END IF; END $$;
CREATE TABLE raw_chunks_default PARTITION OF raw_chunks DEFAULT;

ALTER TABLE events ALTER COLUMN raw DROP NOT NULL;
ALTER TABLE events ADD COLUMN raw_chunk bigint;
ALTER TABLE events ADD COLUMN raw_at integer;

-- events_day_partition (migration 021) now makes the day's raw_chunks partition too (raw_chunks_YYYYMMDD),
-- moving that day's chunks out of raw_chunks_default first, as it does for events.
CREATE OR REPLACE FUNCTION events_day_partition(day date) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  part text := 'events_' || to_char(day, 'YYYYMMDD');
  chunks text := 'raw_chunks_' || to_char(day, 'YYYYMMDD');
  lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
  hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
  IF to_regclass(chunks) IS NULL THEN
    EXECUTE format('CREATE TABLE %I (LIKE raw_chunks INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION)', chunks);
    EXECUTE format('WITH moved AS (DELETE FROM raw_chunks_default WHERE time >= %L AND time < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, chunks);
    EXECUTE format('ALTER TABLE raw_chunks ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', chunks, lo, hi);
  END IF;
  IF to_regclass(part) IS NOT NULL THEN
    RETURN part;
  END IF;
  EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION) WITH (toast_tuple_target = 8160)', part);
  EXECUTE format('WITH moved AS (DELETE FROM events_default WHERE time >= %L AND time < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, part);
  EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
  RETURN part;
END
$$;

-- The chunks' partitions for the days that already have events partitions.
SELECT events_day_partition(to_date(substr(c.relname, 8), 'YYYYMMDD'))
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_[0-9]{8}$';
