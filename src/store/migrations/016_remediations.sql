-- Approved plans carried out in AWS (src/actions/approvals/execute.ts). One row per approval: the plan
-- exactly as it was approved (a reactivation is an approval of its own), and one row per step of it.
-- The steps are what makes the `remediate` job idempotent step by step:
-- state: pending — not started
--        running — started: written and committed before the IAM call; a worker that finds a step
--                  running (its worker died) checks the live account before acting again
--        done    — the account is as the step wants it (outcome: changed = trailbot changed it,
--                  already = it already was)
--        failed  — AWS refused it for good (error and error_code say why and what to fix); a later
--                  run of the same approval tries it again
CREATE TABLE remediations (
  approval_id   text PRIMARY KEY,
  kind          text NOT NULL CHECK (kind IN ('deactivate', 'reactivate')),
  account       text NOT NULL,
  target        jsonb NOT NULL,
  plan          jsonb NOT NULL,
  state         text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'partial', 'failed')),
  runs          integer NOT NULL DEFAULT 0,
  -- What the account held that the plan did not cover (an Active key created after the plan was made).
  warnings      jsonb NOT NULL DEFAULT '[]',
  created_at    timestamptz NOT NULL DEFAULT now(),
  started_at    timestamptz,
  finished_at   timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE remediation_steps (
  approval_id   text NOT NULL REFERENCES remediations (approval_id) ON DELETE CASCADE,
  step_id       text NOT NULL,
  seq           integer NOT NULL,
  action        jsonb NOT NULL,
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
  outcome       text CHECK (outcome IN ('changed', 'already')),
  -- What the step settled on when it first started (e.g. the aws:TokenIssueTime of a revoke), so a
  -- retry writes exactly the same thing.
  params        jsonb NOT NULL DEFAULT '{}',
  result        jsonb,
  error         text,
  error_code    text,
  attempts      integer NOT NULL DEFAULT 0,
  -- When the IAM write was last sent (null: never sent, so a step found done was already so).
  sent_at       timestamptz,
  started_at    timestamptz,
  finished_at   timestamptz,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (approval_id, step_id)
);
CREATE INDEX remediation_steps_order ON remediation_steps (approval_id, seq);
