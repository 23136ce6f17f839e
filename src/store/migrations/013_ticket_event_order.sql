-- Jira delivers webhooks concurrently and does not promise their order: a ticket closed through
-- "In Progress" to "Done" sends two issue_updated events that can arrive Done first. Each ticket row
-- keeps the position of the newest event applied (the delivery's timestamp in ms, then the changelog
-- id, which Jira allocates in increasing order); an older event arriving late changes nothing.
ALTER TABLE tickets ADD COLUMN jira_event_at bigint;
ALTER TABLE tickets ADD COLUMN jira_event_seq bigint;
