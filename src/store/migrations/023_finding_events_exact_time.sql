-- finding_events kept its events' times rounded to the second when an event's time had a fraction
-- (CloudTrail writes whole seconds; other exporters keep milliseconds). Since the joins of
-- finding_events and events match on time as well (events is partitioned by day, migration 021),
-- such a row would no longer find its event: it gets the event's exact time back. Only rows whose
-- event lies within a second of it (the rounding's only error) and that no event matches exactly change.
UPDATE finding_events fe SET time = e.time
  FROM events e
 WHERE e.event_id = fe.event_id AND e.time <> fe.time
   AND e.time > fe.time - interval '1 second' AND e.time < fe.time + interval '1 second'
   AND NOT EXISTS (SELECT 1 FROM events x WHERE x.event_id = fe.event_id AND x.time = fe.time);
