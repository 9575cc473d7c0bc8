-- queue_retry: a dead or cancelled job is ready again now, with a fresh set
-- of attempts. Its last error stays until the next failure replaces it.
UPDATE orq_jobs
SET state       = 'ready',
    event       = 'retried',
    attempts    = 0,
    run_at      = :now,
    lane        = NULL,  -- its turn is its new run_at (migration 015)
    finished_at = NULL,
    children    = children,  -- runs orq_jobs_children (migration 011)
    updated_at  = :now
WHERE id = :id AND (state = 'dead' OR state = 'cancelled')
