-- Threshold flows that count distinct values (`distinctBy` in src/flows/define.ts: secrets read,
-- instances reached, actions tried) keep each hit's values, so a window loaded back from the store
-- counts them again. NULL for flows that count events.
ALTER TABLE flow_hits ADD COLUMN distinct_values text[];
