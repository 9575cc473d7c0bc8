-- Schedules due at :now (an orq_schedules_due index range; nothing due:
-- one probe). Run inside every claim.
SELECT name, cron, tz, queue, payload, options, next_run_at
FROM orq_schedules
WHERE next_run_at <= :now
ORDER BY next_run_at
