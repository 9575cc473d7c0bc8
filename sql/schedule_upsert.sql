-- queue_schedule: create or replace a schedule (which clears the error of
-- one set aside).
INSERT INTO orq_schedules (name, cron, tz, queue, payload, options, next_run_at, created_at)
VALUES (:name, :cron, :tz, :queue, :payload, :options, :next_run_at, :now)
ON CONFLICT (name) DO UPDATE SET
  cron = excluded.cron, tz = excluded.tz, queue = excluded.queue, payload = excluded.payload,
  options = excluded.options, next_run_at = excluded.next_run_at, error = NULL
