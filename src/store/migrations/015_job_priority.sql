-- Job priorities for the inline queue, with BullMQ's meaning: 0 (the default) is taken first, then
-- 1, 2, … in order; equal priorities go oldest first. What gets which is in src/runtime/jobs.ts
-- (PRIORITY): a new finding's notify before evaluating flows, before updates, before reading more input.
ALTER TABLE runtime_jobs ADD COLUMN priority integer NOT NULL DEFAULT 0;
