-- Approvals, after a security review (src/actions/approvals/store.ts, src/http/signin.ts).

-- Sign-out ends a session for good: the session id (in the signed cookie) of every session signed out,
-- until the session would have ended anyway (8 h); a cookie naming one of them is nobody's. Rows whose
-- expires_at has passed are removed at the next sign-out.
CREATE TABLE ended_sessions (
  sid           text PRIMARY KEY,
  ended_at      timestamptz NOT NULL DEFAULT now(),
  expires_at    timestamptz NOT NULL
);
CREATE INDEX ended_sessions_expires ON ended_sessions (expires_at);

-- A reactivation may be proposed again (by an approver, from the deactivation's page) once the last one
-- expired or was dismissed: each is a new row, numbered per deactivation; never two live ones (the
-- proposal is made under a lock of the deactivation's row, after checking the last one).
ALTER TABLE approvals ADD COLUMN round integer NOT NULL DEFAULT 1;
DROP INDEX approvals_reactivate;
CREATE UNIQUE INDEX approvals_reactivate ON approvals (reverses, round) WHERE kind = 'reactivate';

-- Anonymous refusals and views are coalesced: at most one audit_log row per (action, address, reason)
-- per minute; this table counts how many that row stands for (audit_log stays append-only: the row is
-- written once, by the first; the ones after it only add to its count here). The triggers let a count
-- only grow and the row's audit entry only be set once; nothing is deleted.
CREATE TABLE audit_repeats (
  action        text NOT NULL,
  -- The client's address (an IPv6 one by its /64), or '*' once too many addresses were seen that minute.
  ip            text NOT NULL,
  -- The refusal's reason, or what was viewed (with the approval it names).
  reason        text NOT NULL,
  minute        timestamptz NOT NULL,
  seq           bigint REFERENCES audit_log (seq),
  count         integer NOT NULL DEFAULT 1 CHECK (count >= 1),
  last_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (action, ip, reason, minute)
);
CREATE UNIQUE INDEX audit_repeats_seq ON audit_repeats (seq);
CREATE INDEX audit_repeats_minute ON audit_repeats (minute);
CREATE FUNCTION audit_repeats_grow_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'UPDATE' OR NEW.action IS DISTINCT FROM OLD.action OR NEW.ip IS DISTINCT FROM OLD.ip OR NEW.reason IS DISTINCT FROM OLD.reason OR NEW.minute IS DISTINCT FROM OLD.minute OR NEW.count < OLD.count OR (OLD.seq IS NOT NULL AND NEW.seq IS DISTINCT FROM OLD.seq) THEN RAISE EXCEPTION 'audit_repeats only counts up: % refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NEW; END $$;
CREATE TRIGGER audit_repeats_no_rewrite BEFORE UPDATE OR DELETE ON audit_repeats FOR EACH ROW EXECUTE FUNCTION audit_repeats_grow_only();
CREATE TRIGGER audit_repeats_no_truncate BEFORE TRUNCATE ON audit_repeats FOR EACH STATEMENT EXECUTE FUNCTION audit_repeats_grow_only();
