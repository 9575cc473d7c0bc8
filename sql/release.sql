-- queue_release: the lease holder gives a job back unfinished (a worker
-- shutting down). It is claimable again after :delay_ms, and the attempt it
-- was on is not counted.
UPDATE OR FAIL orq_jobs
SET state       = 'ready',
    event       = 'released',
    attempts    = attempts - 1,
    run_at      = :now + :delay_ms,
    lane        = NULL,  -- its turn is its new run_at (migration 015)
    lease_until = NULL,
    updated_at  = :now
WHERE id = :id AND state = 'running' AND (:token IS NULL OR token = :token)
