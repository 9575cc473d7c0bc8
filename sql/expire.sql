-- Before a claim: leases that ran out in the queues being claimed. Each is a
-- lost attempt: the job is claimable again at once, or dead with
-- 'lease expired' when that was its last attempt. (:queues is a JSON array of
-- queue names, or NULL for every queue.)
UPDATE orq_jobs
SET state       = iif(attempts >= max_attempts, 'dead', 'ready'),
    event       = iif(attempts >= max_attempts, 'dead', 'expired'),
    error       = 'lease expired',
    run_at      = lease_until,
    finished_at = iif(attempts >= max_attempts, :now, NULL),
    lease_until = NULL,
    updated_at  = :now
WHERE id IN (
  SELECT j.id
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.queue = q.name AND j.state = 'running' AND j.lease_until <= :now
  WHERE q.name IN (SELECT value FROM json_each(coalesce(:queues, (SELECT json_group_array(name) FROM orq_queues))))
)
