-- The introspection tables: filters, order, joins.
.mode box
SELECT * FROM queue_jobs;
SELECT * FROM orq_connection;
SELECT orq_clock(7000);
SELECT count(queue_enqueue(iif(value % 2, 'odd', 'even'), value)) AS enqueued
  FROM json_each('[1,2,3,4,5,6]');
SELECT id FROM queue_claim('w', 2, 'odd');
SELECT id, queue, state FROM queue_jobs WHERE queue = 'odd' AND state = 'ready';
SELECT id, worker, lease_until FROM queue_jobs WHERE state = 'running' ORDER BY id DESC;
SELECT id FROM queue_jobs WHERE id BETWEEN 2 AND 4;
SELECT queue, ready, running FROM queue_stats;
SELECT clock, side_connection FROM orq_connection;
SELECT json_extract(orq_debug(), '$.schema_version') AS schema_version;
-- Every write above ran inside a query, where SQLite drops no index: the
-- upgrade stopped at v15 (migration 016). A write outside a query ends it.
SELECT orq_migrate() AS schema_version;
