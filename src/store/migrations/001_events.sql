-- The normalized events, one row per CloudTrail event id. The raw record is kept verbatim.
CREATE TABLE events (
  event_id        text PRIMARY KEY,
  time            timestamptz NOT NULL,
  account         text,
  region          text,
  service         text,
  action          text,
  read_only       boolean,
  event_type      text,
  event_category  text,
  outcome         text NOT NULL CHECK (outcome IN ('success', 'denied', 'failed')),
  error_code      text,
  error_message   text,
  actor_key       text,
  actor_type      text,
  actor_name      text,
  actor_arn       text,
  actor_account   text,
  principal_id    text,
  access_key_id   text,
  user_name       text,
  role_name       text,
  session_name    text,
  email           text,
  invoked_by      text,
  mfa             boolean,
  via             text NOT NULL,
  tool            text,
  source_ip       text,
  source_address  text,
  user_agent      text,
  resources       jsonb NOT NULL DEFAULT '[]',
  -- lower-cased ids and ARNs of every resource, for "what happened to X"
  resource_keys   text[] NOT NULL DEFAULT '{}',
  primary_type    text,
  primary_id      text,
  primary_arn     text,
  primary_named   boolean NOT NULL DEFAULT true,
  derived_id      boolean NOT NULL DEFAULT false,
  raw             json NOT NULL,
  ingested_at     timestamptz NOT NULL DEFAULT now()
);

-- A person's recent activity: one index scan per principal (see trail()).
CREATE INDEX events_actor_time ON events (actor_key, time DESC);
-- An action's occurrences.
CREATE INDEX events_action_time ON events (action, time DESC);
-- Time-ordered browsing and time-bounded searches.
CREATE INDEX events_time ON events (time DESC);
-- A resource's history.
CREATE INDEX events_resource_keys ON events USING gin (resource_keys);

-- Every principal seen, with the names people search by.
CREATE TABLE principals (
  actor_key     text PRIMARY KEY,
  type          text,
  name          text,
  arn           text,
  account       text,
  principal_id  text,
  user_name     text,
  role_name     text,
  session_name  text,
  email         text,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL,
  events        bigint NOT NULL DEFAULT 0
);
CREATE INDEX principals_email ON principals (lower(email) text_pattern_ops);
CREATE INDEX principals_user_name ON principals (lower(user_name));
CREATE INDEX principals_session_name ON principals (lower(session_name));
CREATE INDEX principals_arn ON principals (lower(arn));
CREATE INDEX principals_principal_id ON principals (lower(principal_id));
CREATE INDEX principals_name ON principals (lower(name));

-- Which principal used which access key.
CREATE TABLE access_keys (
  access_key_id text PRIMARY KEY,
  actor_key     text NOT NULL,
  first_seen    timestamptz NOT NULL,
  last_seen     timestamptz NOT NULL
);
CREATE INDEX access_keys_actor ON access_keys (actor_key);
