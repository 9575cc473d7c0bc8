-- A schedule fired: its job, and the next time after :now (missed runs are
-- not made up: one job per firing, whatever the downtime).
UPDATE orq_schedules
SET next_run_at = :next_run_at, last_run_at = :due_at, last_job = :job
WHERE name = :name
