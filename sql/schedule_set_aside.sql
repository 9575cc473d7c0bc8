-- A due schedule that cannot fire: never due again (see migration 008)
-- until queue_schedule replaces it; :error says why. :job is the job of its
-- last run when it made one (NULL: it made none, the last one stays).
UPDATE orq_schedules
SET next_run_at = 9223372036854775807, error = :error,
    last_run_at = iif(:job IS NULL, last_run_at, :due_at), last_job = coalesce(:job, last_job)
WHERE name = :name
