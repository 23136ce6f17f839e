-- /api/events and `trailbot search` by access key: what a (leaked) key did, newest first. The same key
-- can appear under more than one principal (a cross-account call is logged in the caller's account with
-- the ARN and in the resource owner's with only the account), so it cannot go through access_keys and
-- events_actor_time. Partial: events without a key (service events, console sign-ins) add no entry.
-- The other filters without an index of their own (service, resource type, read-only, account, region,
-- outcome, via) are checked along events_time, and the API asks for a time range with them alone
-- (src/store/requests.ts): one more index per filter would slow every insert.
CREATE INDEX events_access_key_time ON events (access_key_id, time DESC) WHERE access_key_id IS NOT NULL;
