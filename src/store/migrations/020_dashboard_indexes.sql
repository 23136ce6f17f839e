-- The dashboard (src/http/dashboard.ts) filters events by service, account, region, outcome and via
-- alone, newest first, a page at a time. Along events_time a rare value (denied calls in one account)
-- means reading most of a month's rows for one page; with (column, time) each filter is an index range
-- that stops at the page's end, whatever the value's share of the store.
CREATE INDEX IF NOT EXISTS events_service_time ON events (service, time DESC);
CREATE INDEX IF NOT EXISTS events_account_time ON events (account, time DESC);
CREATE INDEX IF NOT EXISTS events_region_time ON events (region, time DESC);
CREATE INDEX IF NOT EXISTS events_outcome_time ON events (outcome, time DESC);
CREATE INDEX IF NOT EXISTS events_via_time ON events (via, time DESC);
-- ClickOps: changes made by hand in the console (what the ClickOps charts count), by day, person and resource.
CREATE INDEX IF NOT EXISTS events_console_changes ON events (time DESC) INCLUDE (actor_name, primary_type, primary_id)
  WHERE via = 'console' AND read_only IS NOT TRUE AND outcome = 'success';
