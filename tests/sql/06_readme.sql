-- The examples of the README's SQL API reference, in order: this file's
-- output is what the README shows.
SELECT orq_clock(1800000000), orq_now();
SELECT queue_enqueue('email', '{"to":"a@b.c"}');
SELECT queue_enqueue('email', '{"to":"x@y.z"}', '{"priority":5,"max_attempts":3}');
SELECT queue_enqueue('email', '{"to":"a@b.c"}', '{"key":"welcome-a","delay":60}');
SELECT queue_enqueue('email', '{}', '{"key":"welcome-a"}');
SELECT queue_enqueue_many('bulk', '[{"n":1},{"n":2},{"n":3}]');
.mode table
SELECT id, queue, payload, attempt, token, lease_until FROM queue_claim('worker-1', 2, 'email');
.mode list
SELECT queue_claim_json('worker-2', 1, 'bulk');
SELECT queue_wait('bulk', 0), queue_wait('["email","nope"]', 0.01);
SELECT queue_complete(2, 2097153, '{"sent":true}');
SELECT queue_complete(2, 2097153);
SELECT queue_complete_many('[[2, 2097153], {"id": 2, "token": 2097153, "result": {"sent": true}}]');
SELECT queue_extend(1, 1048577, 120);
SELECT queue_fail(1, 1048577, 'SMTP timeout');
SELECT state, attempts, run_at, error FROM queue_jobs WHERE id = 1;
SELECT queue_release(4, 4194305);
SELECT queue_cancel(3);
SELECT queue_retry(3);
SELECT queue_pause('email'), queue_pause('email');
SELECT queue_resume('email');
.mode table
SELECT * FROM queue_stats;
.mode list
SELECT orq_backoff_ms(1, 1), orq_backoff_ms(1, 2), orq_backoff_ms(1, 3, '{"base":10,"jitter":false}');
SELECT orq_clock(1800090000);
SELECT queue_purge('email', 86400);
SELECT queue_worker_register('gpu-1', '{"capabilities":["gpu"],"concurrency":4}');
SELECT name, state, running, jobs_done FROM queue_workers;
SELECT metric, value FROM queue_metrics WHERE queue = 'bulk' AND kind IN ('counter', 'gauge') AND value > 0;
SELECT queue_enqueue('img', '{"file":"a.png"}');
SELECT orq_clock(1800090002);
SELECT id FROM queue_claim('worker-1', 1, 'img');
SELECT orq_clock(1800090002.4);
SELECT queue_complete(7);
SELECT metric, kind, le, value FROM queue_metrics
WHERE queue = 'img' AND metric = 'run_seconds' AND (le IS NULL OR le BETWEEN 0.25 AND 1);
SELECT queue_alert('email-backlog', 'email', 'ready', '>', 1, 60);
SELECT queue_alert('any-dead', NULL, 'dead_total', '>', 0);
SELECT queue_alerts_check();
SELECT orq_clock(1800090062.4);
SELECT queue_alerts_check();
SELECT queue_alerts_check();
SELECT name, state, since, value, fired_at FROM queue_alerts;
SELECT json_extract(queue_health(), '$.status');
SELECT json_extract(value, '$.name'), json_extract(value, '$.status'), json_extract(value, '$.detail')
FROM json_each(queue_health('{"dead_warn":10}'), '$.checks');
SELECT queue_alert_remove('any-dead');
