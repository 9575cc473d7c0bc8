-- queue_release: the lease holder gives a job back unfinished (a worker
-- shutting down). It is claimable again after :delay_ms, and the attempt it
-- was on is not counted.
UPDATE OR FAIL orq_jobs
SET state       = 'ready',
    event       = 'released',
    run_at      = :now + :delay_ms,
    {unleased}
WHERE id = :id AND state = 'running' AND (:token IS NULL OR token = :token)
