-- queue_schedules: every schedule with its next run (times in unix seconds).
-- A schedule set aside (error set, see migration 008) has no next run.
SELECT name, cron, tz, queue, payload, options, iif(error IS NULL, next_run_at / 1000.0, NULL),
       last_run_at / 1000.0, last_job, created_at / 1000.0, error
FROM orq_schedules
ORDER BY name
