-- queue_sleep: the lease holder puts the job to sleep until :run_at. Like a
-- release (release.sql), it leaves its worker and the attempt it was on is
-- not counted; its steps stay, so the next run reads them back.
UPDATE OR FAIL orq_jobs
SET state       = 'ready',
    event       = 'slept',
    run_at      = :run_at,
    {unleased}
WHERE id = :id AND state = 'running' AND token = :token
