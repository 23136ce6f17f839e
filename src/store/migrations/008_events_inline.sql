-- Keep event rows whole, uncompressed, up to 8 KB. With the default target (~2 KB) most rows (a raw
-- record averages ~1.6 KB, the normalized columns ~0.6 KB) went through TOAST compression on insert,
-- which took about a quarter of PostgreSQL's CPU during ingest for little gain: measured on 200,000
-- generated events, the table grows 23% (456 -> 563 MB) and ingest goes from ~19,000 to ~22,000
-- events/s on this 2-core machine (npm run bench:ingest). Rows over 8 KB are still compressed (lz4).
ALTER TABLE events SET (toast_tuple_target = 8160);
