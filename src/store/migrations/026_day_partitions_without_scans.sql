-- Day partitions made without scanning the default partitions (store-maintenance, src/store/retention.ts).
--
-- ATTACH PARTITION checks that the default partition holds no row of the new range by reading it whole,
-- under the ACCESS EXCLUSIVE lock that stops every query and write of it; and it reads the new table
-- whole to check its rows fit the bounds. With a million rows in events_default (a backfill of old
-- trail files) that was one to four seconds per day, ten days to a transaction: the store stood still.
-- PostgreSQL skips both reads when existing CHECK constraints already prove them. So, for a batch of
-- days at once: each new table is made with a CHECK of its bounds (free on an empty table), the days'
-- rows are moved out of the defaults, one ALTER TABLE adds to each default a CHECK excluding every day
-- of the batch (one read of it, however many days), then each day is attached without reading anything,
-- and the CHECKs, no longer needed (a default's own bounds now exclude the days), are dropped. All in
-- the caller's transaction: a reader sees the rows in the default or in their day, never neither.
--
-- Moving a day's rows under that lock cost more still: 100,000 rows copied into a new table with its
-- eight indexes held the store's queries ~6 s a batch. So the copy is made before, without the lock
-- (events_day_stage, its own transaction: readers and writers go on), into `move_events_YYYYMMDD` and
-- `move_raw_chunks_YYYYMMDD` with their indexes (autovacuum off until attached: a vacuum of a copy
-- would hold up the rename under the lock until cancelled); under the lock events_day_partitions only brings each
-- copy up to date (rows written to the day since, by the key), deletes the day
-- from the default, renames the copy (and its indexes) and attaches it. A day without a copy (a copy that did not
-- commit, one another run took) is moved as before, under the lock. A copy left by a crash is remade by
-- the next stage of its day, or dropped by the job (src/store/retention.ts).

-- A copy's indexes, built once its rows are in (sorted: as compact as ATTACH builds them; kept up row by
-- row during the load they came out ~30% larger): the parent's primary key and indexes, the same
-- definitions, so ATTACH takes them as the partition's.
CREATE FUNCTION events_day_stage_indexes(parent regclass, copy text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  def text;
BEGIN
  FOR def IN SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = parent AND contype = 'p' LOOP
    EXECUTE format('ALTER TABLE %I ADD %s', copy, def);
  END LOOP;
  FOR def IN SELECT pg_get_indexdef(i.indexrelid) FROM pg_index i WHERE i.indrelid = parent AND NOT i.indisprimary LOOP
    EXECUTE regexp_replace(def, '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?\S+ ', 'CREATE \1INDEX ON ' || quote_ident(copy) || ' ');
  END LOOP;
END
$$;

-- The days' copies (see above), each in place of any earlier one; returns the events copied.
CREATE FUNCTION events_day_stage(days date[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  d date;
  lo timestamptz;
  hi timestamptz;
  t text;
  n bigint;
  copied bigint := 0;
BEGIN
  FOREACH d IN ARRAY (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(days) x) LOOP
    lo := (d::timestamp AT TIME ZONE 'UTC');
    hi := ((d + 1)::timestamp AT TIME ZONE 'UTC');
    t := 'raw_chunks_' || to_char(d, 'YYYYMMDD');
    EXECUTE format('DROP TABLE IF EXISTS %I', 'move_' || t);
    IF to_regclass(t) IS NULL THEN
      EXECUTE format('CREATE TABLE %I (LIKE raw_chunks INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION, CONSTRAINT %I CHECK (time >= %L AND time < %L)) WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)', 'move_' || t, t || '_bounds', lo, hi);
      EXECUTE format('INSERT INTO %I SELECT * FROM raw_chunks_default WHERE time >= %L AND time < %L', 'move_' || t, lo, hi);
      PERFORM events_day_stage_indexes('raw_chunks', 'move_' || t);
    END IF;
    t := 'events_' || to_char(d, 'YYYYMMDD');
    EXECUTE format('DROP TABLE IF EXISTS %I', 'move_' || t);
    IF to_regclass(t) IS NULL THEN
      EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION, CONSTRAINT %I CHECK (time >= %L AND time < %L)) WITH (toast_tuple_target = 8160, autovacuum_enabled = false, toast.autovacuum_enabled = false)', 'move_' || t, t || '_bounds', lo, hi);
      EXECUTE format('INSERT INTO %I SELECT * FROM events_default WHERE time >= %L AND time < %L', 'move_' || t, lo, hi);
      GET DIAGNOSTICS n = ROW_COUNT;
      copied := copied + n;
      PERFORM events_day_stage_indexes('events', 'move_' || t);
    END IF;
  END LOOP;
  RETURN copied;
END
$$;

-- Returns the events partitions it made (those that existed already are left as they are) and how many
-- events it moved out of events_default into them.
CREATE FUNCTION events_day_partitions(days date[], OUT parts text[], OUT moved bigint) LANGUAGE plpgsql AS $$
DECLARE
  d date;
  lo timestamptz;
  hi timestamptz;
  t text;
  n bigint;
  chunk_days date[] := '{}';
  event_days date[] := '{}';
  excl text;
  ix text;
  k bigint;
BEGIN
  parts := '{}';
  moved := 0;
  FOREACH d IN ARRAY (SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest(days) x) LOOP
    lo := (d::timestamp AT TIME ZONE 'UTC');
    hi := ((d + 1)::timestamp AT TIME ZONE 'UTC');
    t := 'raw_chunks_' || to_char(d, 'YYYYMMDD');
    IF to_regclass(t) IS NOT NULL THEN
      EXECUTE format('DROP TABLE IF EXISTS %I', 'move_' || t);
    ELSIF to_regclass('move_' || t) IS NOT NULL THEN
      -- As for events, below.
      EXECUTE format('INSERT INTO %I SELECT * FROM raw_chunks_default c WHERE time >= %L AND time < %L AND NOT EXISTS (SELECT 1 FROM %I m WHERE m.id = c.id AND m.time = c.time)', 'move_' || t, lo, hi, 'move_' || t);
      EXECUTE format('SELECT (SELECT count(*) FROM %I), (SELECT count(*) FROM raw_chunks_default WHERE time >= %L AND time < %L)', 'move_' || t, lo, hi) INTO k, n;
      IF k <> n THEN
        EXECUTE format('DELETE FROM %I m WHERE NOT EXISTS (SELECT 1 FROM raw_chunks_default c WHERE c.time >= %L AND c.time < %L AND c.id = m.id AND c.time = m.time)', 'move_' || t, lo, hi);
      END IF;
      EXECUTE format('DELETE FROM raw_chunks_default WHERE time >= %L AND time < %L', lo, hi);
      EXECUTE format('ALTER TABLE %I RENAME TO %I', 'move_' || t, t);
      EXECUTE format('ALTER TABLE %I RESET (autovacuum_enabled, toast.autovacuum_enabled)', t);
      FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = t::regclass AND c.relname LIKE 'move\_%' LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', ix, substr(ix, 6));
      END LOOP;
      chunk_days := chunk_days || d;
    ELSE
      EXECUTE format('CREATE TABLE %I (LIKE raw_chunks INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION, CONSTRAINT %I CHECK (time >= %L AND time < %L))', t, t || '_bounds', lo, hi);
      EXECUTE format('WITH moved AS (DELETE FROM raw_chunks_default WHERE time >= %L AND time < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, t);
      chunk_days := chunk_days || d;
    END IF;
    t := 'events_' || to_char(d, 'YYYYMMDD');
    IF to_regclass(t) IS NOT NULL THEN
      EXECUTE format('DROP TABLE IF EXISTS %I', 'move_' || t);
    ELSIF to_regclass('move_' || t) IS NOT NULL THEN
      -- Rows of the day written since the copy, by the key; then rows gone since (none expected: only a
      -- move takes rows of a day within the retention out): the copy now holds every row the default
      -- holds, so equal counts mean none.
      EXECUTE format('INSERT INTO %I SELECT * FROM events_default e WHERE time >= %L AND time < %L AND NOT EXISTS (SELECT 1 FROM %I m WHERE m.event_id = e.event_id AND m.time = e.time)', 'move_' || t, lo, hi, 'move_' || t);
      EXECUTE format('SELECT (SELECT count(*) FROM %I), (SELECT count(*) FROM events_default WHERE time >= %L AND time < %L)', 'move_' || t, lo, hi) INTO k, n;
      IF k <> n THEN
        EXECUTE format('DELETE FROM %I m WHERE NOT EXISTS (SELECT 1 FROM events_default e WHERE e.time >= %L AND e.time < %L AND e.event_id = m.event_id AND e.time = m.time)', 'move_' || t, lo, hi);
      END IF;
      EXECUTE format('DELETE FROM events_default WHERE time >= %L AND time < %L', lo, hi);
      GET DIAGNOSTICS n = ROW_COUNT;
      moved := moved + n;
      EXECUTE format('ALTER TABLE %I RENAME TO %I', 'move_' || t, t);
      EXECUTE format('ALTER TABLE %I RESET (autovacuum_enabled, toast.autovacuum_enabled)', t);
      FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = t::regclass AND c.relname LIKE 'move\_%' LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', ix, substr(ix, 6));
      END LOOP;
      event_days := event_days || d;
    ELSE
      EXECUTE format('CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMPRESSION, CONSTRAINT %I CHECK (time >= %L AND time < %L)) WITH (toast_tuple_target = 8160)', t, t || '_bounds', lo, hi);
      EXECUTE format('WITH moved AS (DELETE FROM events_default WHERE time >= %L AND time < %L RETURNING *) INSERT INTO %I SELECT * FROM moved', lo, hi, t);
      GET DIAGNOSTICS n = ROW_COUNT;
      moved := moved + n;
      event_days := event_days || d;
    END IF;
  END LOOP;

  -- Chunks first, then events: the order in which ingest writes them.
  IF cardinality(chunk_days) > 0 THEN
    SELECT string_agg(format('ADD CONSTRAINT %I CHECK (time < %L OR time >= %L)', 'raw_chunks_default_not_' || to_char(x, 'YYYYMMDD'),
                             (x::timestamp AT TIME ZONE 'UTC'), ((x + 1)::timestamp AT TIME ZONE 'UTC')), ', ')
      INTO excl FROM unnest(chunk_days) x;
    EXECUTE 'ALTER TABLE raw_chunks_default ' || excl;
  END IF;
  IF cardinality(event_days) > 0 THEN
    SELECT string_agg(format('ADD CONSTRAINT %I CHECK (time < %L OR time >= %L)', 'events_default_not_' || to_char(x, 'YYYYMMDD'),
                             (x::timestamp AT TIME ZONE 'UTC'), ((x + 1)::timestamp AT TIME ZONE 'UTC')), ', ')
      INTO excl FROM unnest(event_days) x;
    EXECUTE 'ALTER TABLE events_default ' || excl;
  END IF;

  FOREACH d IN ARRAY chunk_days LOOP
    t := 'raw_chunks_' || to_char(d, 'YYYYMMDD');
    EXECUTE format('ALTER TABLE raw_chunks ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, t || '_bounds');
  END LOOP;
  FOREACH d IN ARRAY event_days LOOP
    t := 'events_' || to_char(d, 'YYYYMMDD');
    EXECUTE format('ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', t, (d::timestamp AT TIME ZONE 'UTC'), ((d + 1)::timestamp AT TIME ZONE 'UTC'));
    EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', t, t || '_bounds');
    parts := parts || t;
  END LOOP;

  IF cardinality(chunk_days) > 0 THEN
    SELECT string_agg(format('DROP CONSTRAINT %I', 'raw_chunks_default_not_' || to_char(x, 'YYYYMMDD')), ', ') INTO excl FROM unnest(chunk_days) x;
    EXECUTE 'ALTER TABLE raw_chunks_default ' || excl;
  END IF;
  IF cardinality(event_days) > 0 THEN
    SELECT string_agg(format('DROP CONSTRAINT %I', 'events_default_not_' || to_char(x, 'YYYYMMDD')), ', ') INTO excl FROM unnest(event_days) x;
    EXECUTE 'ALTER TABLE events_default ' || excl;
  END IF;
END
$$;

-- The one-day form (migrations 021 and 022) is the batch of one.
CREATE OR REPLACE FUNCTION events_day_partition(day date) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM events_day_partitions(ARRAY[day]);
  RETURN 'events_' || to_char(day, 'YYYYMMDD');
END
$$;

-- The rebuild of the default partitions' indexes (migration 025) is due once the rows that left them
-- since the last rebuild are a fair share of what they hold (src/store/retention.ts), not after every
-- straggler deleted: `left_rows` counts them. A rebuild due under the previous version stays due.
ALTER TABLE store_maintenance ADD COLUMN left_rows bigint NOT NULL DEFAULT 0;
UPDATE store_maintenance SET left_rows = (SELECT count(*) FROM events_default) + 1 WHERE moves > rebuilt;
