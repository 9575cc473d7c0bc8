-- queue_schedules: every schedule with its next run (times in unix seconds).
SELECT name, cron, tz, queue, payload, options, next_run_at / 1000.0, last_run_at / 1000.0, last_job,
       created_at / 1000.0
FROM orq_schedules
ORDER BY name
