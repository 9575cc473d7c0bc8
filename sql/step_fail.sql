-- queue_step_fail: counts a failed try of step :name while :token holds
-- the job's lease, and returns how many tries of the job's current attempt
-- have failed (no row when the lease is lost). A count from an earlier
-- attempt starts over. orq_step_failures_* (migration 018) write each try
-- into the job's history.
INSERT INTO orq_step_failures (job, name, attempt, failures, error, failed_at)
SELECT id, :name, attempts, 1, :error, :now
FROM orq_jobs
WHERE id = :id AND state = 'running' AND token = :token
ON CONFLICT (job, name) DO UPDATE
SET failures  = iif(attempt = excluded.attempt, failures + 1, 1),
    attempt   = excluded.attempt,
    error     = excluded.error,
    failed_at = excluded.failed_at
RETURNING failures
