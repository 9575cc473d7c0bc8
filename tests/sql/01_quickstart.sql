-- The README's first example, in the real sqlite3 shell.
-- Run by hand: sqlite3 :memory: -cmd '.load target/release/liborq' < tests/sql/01_quickstart.sql
.mode box
SELECT * FROM queue_stats;                                  -- answers before any job exists
SELECT orq_clock(1800000000);                               -- a fixed clock makes this output exact
SELECT queue_enqueue('email', '{"to":"a@b.c"}') AS id;
SELECT queue_enqueue('email', '{"to":"x@y.z"}', '{"priority":5}') AS id;
SELECT id, queue, payload, attempt, token, lease_until FROM queue_claim('worker-1', 10);
SELECT queue_complete(2, 2097153) AS completed;
SELECT queue_complete(1, 1048577, '{"sent":true}') AS completed;
SELECT * FROM queue_stats;
SELECT id, state, attempts, result FROM queue_jobs;
