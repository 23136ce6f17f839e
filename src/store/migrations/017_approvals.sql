-- Approvals (src/actions/approvals): trailbot proposes to deactivate the person behind a finding, an
-- analyst decides through a signed link (PUBLIC_URL/approvals/<token>), trailbot carries it out.
-- One row per proposal: the deactivation of a finding's target, or the reactivation that undoes one.
-- Its links (deactivate / dismiss / reactivate) are HMAC-signed tokens naming the row, the finding,
-- the action and the target principal, and an expiry; they work once: a decision moves the row out
-- of `proposed` and every link of it is spent.
-- state: proposed  — links live; approvals may be gathering (approvals.required: 2)
--        approved  — enough approvals: the remediate job carries out `plan`
--        done      — every step done;  partial — some steps done, some failed;  failed — none done
--        dismissed — an analyst dismissed it: nothing is done
CREATE TABLE approvals (
  id            text PRIMARY KEY,                       -- random hex (safe in a job id)
  finding_id    text NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
  kind          text NOT NULL CHECK (kind IN ('deactivate', 'reactivate')),
  -- reactivate: the deactivation it undoes.
  reverses      text REFERENCES approvals (id),
  -- The target as the plan work describes it (src/actions/approvals/plan.ts), and the principal the links are bound to.
  target        jsonb NOT NULL,
  principal     text NOT NULL,
  state         text NOT NULL DEFAULT 'proposed' CHECK (state IN ('proposed', 'approved', 'done', 'partial', 'failed', 'dismissed')),
  -- How many different approvers it takes (approvals.required when proposed), and who approved: [{email, at, ip}].
  required      integer NOT NULL DEFAULT 1 CHECK (required BETWEEN 1 AND 2),
  approved_by   jsonb NOT NULL DEFAULT '[]',
  -- The plan as last read from the live account (a dry run: the page shows it), when, and why a read failed.
  plan_read     jsonb,
  plan_read_at  timestamptz,
  plan_error    text,
  plan_error_at timestamptz,
  -- What was approved: the plan (as read when the first approver approved) and the options ticked.
  plan          jsonb,
  options       jsonb NOT NULL DEFAULT '{}',
  decided_by    text,
  decided_at    timestamptz,
  -- When the remediate job finished (its steps and their results: remediation_steps, migration 016).
  finished_at   timestamptz,
  expires_at    timestamptz NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- One deactivation proposal per finding and principal (a retried ticket job proposes nothing new); one reactivation per deactivation.
CREATE UNIQUE INDEX approvals_deactivate ON approvals (finding_id, principal) WHERE kind = 'deactivate';
CREATE UNIQUE INDEX approvals_reactivate ON approvals (reverses) WHERE kind = 'reactivate';
CREATE INDEX approvals_finding ON approvals (finding_id, created_at);

-- What the ticket and the channel were told of a decided approval (src/actions/approvals/follow-up.ts):
-- one row per approval and target (jira, slack). intent is committed before the call; a retry of a row
-- whose call may have reached the other side looks for its marker first (Jira) or its metadata (Slack).
CREATE TABLE approval_notices (
  approval_id   text NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
  target        text NOT NULL CHECK (target IN ('jira', 'slack')),
  state         text NOT NULL CHECK (state IN ('intent', 'done', 'skipped', 'failed')),
  attempts      integer NOT NULL DEFAULT 0,
  detail        jsonb,
  error         text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (approval_id, target)
);

-- The audit log: every proposal, view, sign-in, approval, refusal and action, with who, when and from
-- where. Append-only: trailbot has no UPDATE or DELETE path, and the triggers below refuse them (and
-- TRUNCATE) to anyone who tries by hand.
CREATE TABLE audit_log (
  seq           bigserial PRIMARY KEY,
  at            timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- proposed, viewed, signed-in, signed-out, sign-in-refused, approved, dismissed, refused, executed, told
  action        text NOT NULL,
  -- An approver's e-mail, `trailbot` for its own work, or null for someone not signed in.
  actor         text,
  ip            text,
  user_agent    text,
  approval_id   text,
  finding_id    text,
  -- The target principal (its ARN).
  target        text,
  -- ok / refused / failed / partial, and what exactly (the refusal's reason, the steps and their results).
  outcome       text,
  detail        jsonb
);
CREATE INDEX audit_log_approval ON audit_log (approval_id, seq);
CREATE INDEX audit_log_at ON audit_log (at DESC);
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege'; END $$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
