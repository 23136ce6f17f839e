-- What the store-maintenance job (src/store/retention.ts) must remember between runs: rows it moved
-- out of the default partitions (or deleted from them) leave their indexes as large as before, and the
-- rebuild that shrinks them runs after the move has committed. `moves` counts the runs that changed the
-- default partitions, in the same transaction as the change; `rebuilt` is the count the last finished
-- rebuild saw. A rebuild is due while moves > rebuilt: one interrupted (a crash, a lock that did not
-- come) is done by the next run.
CREATE TABLE store_maintenance (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  moves bigint NOT NULL DEFAULT 0,
  rebuilt bigint NOT NULL DEFAULT 0
);
INSERT INTO store_maintenance DEFAULT VALUES;
