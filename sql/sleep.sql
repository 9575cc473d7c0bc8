-- queue_sleep: the lease holder puts the job to sleep until :run_at. Like a
-- release (release.sql), it leaves its worker and the attempt it was on is
-- not counted; its steps stay, so the next run reads them back.
UPDATE OR FAIL orq_jobs
SET state       = 'ready',
    event       = 'slept',
    attempts    = attempts - 1,
    run_at      = :run_at,
    lane        = NULL,  -- its turn is its new run_at (migration 015)
    lease_until = NULL,
    updated_at  = :now
WHERE id = :id AND state = 'running' AND token = :token
