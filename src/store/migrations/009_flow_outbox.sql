-- The flows outbox: events stored but not yet evaluated by the flows. An ingest writes one row per
-- transaction, in that same transaction, listing exactly the event ids it newly inserted; the
-- `evaluate-flows` job deletes the row once the flows have run over them. A worker killed between
-- the commit and the enqueue leaves the row behind, and the outbox drainer of any worker enqueues it
-- again (src/runtime/outbox.ts). `key` is a digest of the sorted ids, so a job holding the same ids
-- finds its row whoever enqueued it.
CREATE TABLE flow_outbox (
  id          bigserial PRIMARY KEY,
  key         text NOT NULL UNIQUE,
  event_ids   text[] NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row, rewritten with synchronous_commit on at the end of every ingest (src/store/durable.ts).
-- Event batches commit asynchronously for speed; this commit waits until the write-ahead log is on
-- disk up to itself, so every event committed before it is durable once it returns.
CREATE TABLE ingest_sync (
  id      boolean PRIMARY KEY DEFAULT true CHECK (id),
  synced  timestamptz NOT NULL
);
