-- queue_step_fail: counts a failed try of step :name while :token holds
-- the job's lease, and returns how many tries of the job's current attempt
-- have failed (no row when the lease is lost). A count from an earlier
-- attempt starts over. The row is replaced, so orq_step_failures_event
-- (migration 018) writes each try into the job's history.
INSERT OR REPLACE INTO orq_step_failures (job, name, attempt, failures, error, failed_at)
SELECT id, :name, attempts,
       1 + coalesce((SELECT failures FROM orq_step_failures AS f
                     WHERE f.job = orq_jobs.id AND f.name = :name AND f.attempt = orq_jobs.attempts), 0),
       :error, :now
FROM orq_jobs
WHERE id = :id AND state = 'running' AND token = :token
RETURNING failures
