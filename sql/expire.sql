-- Before a claim, for the jobs expire_find.sql found (:ids, a JSON array):
-- leases that ran out. Each is a lost attempt: the job is claimable again at
-- once, or dead with 'lease expired' when that was its last attempt.
UPDATE OR FAIL orq_jobs
SET state       = iif(attempts >= max_attempts, 'dead', 'ready'),
    event       = iif(attempts >= max_attempts, 'dead', 'expired'),
    error       = 'lease expired',
    cause       = 'lease_expired',
    run_at      = lease_until,
    lane        = NULL,  -- its turn is its new run_at (migration 015)
    finished_at = iif(attempts >= max_attempts, :now, NULL),
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE id IN (SELECT value FROM json_each(:ids)) AND state = 'running' AND lease_until <= :now
RETURNING id, state
