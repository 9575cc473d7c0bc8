-- queue_fail: a failed attempt. The job is retried after :retry_in_ms, or
-- after its backoff (orq_backoff_ms: exponential, with jitter seeded by
-- (id, attempt) so the same history gives the same schedule); or it is dead
-- when its attempts are used up. Returns the new state; no row when stale.
UPDATE OR FAIL orq_jobs
SET state       = iif(attempts >= max_attempts, 'dead', 'ready'),
    event       = iif(attempts >= max_attempts, 'dead', 'failed'),
    error       = :error,
    cause       = 'failed',
    run_at      = iif(attempts >= max_attempts, run_at,
                      :now + coalesce(:retry_in_ms, orq_backoff_ms(id, attempts, backoff))),
    lane        = NULL,  -- its turn is its new run_at (migration 015)
    finished_at = iif(attempts >= max_attempts, :now, NULL),
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE id = :id AND state = 'running' AND (:token IS NULL OR token = :token)
RETURNING state
