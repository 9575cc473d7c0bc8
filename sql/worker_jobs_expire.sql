-- When a worker is dead: the leases it held are lost attempts, exactly as if
-- they had run out (compare expire.sql), without waiting for them to.
UPDATE orq_jobs
SET state       = iif(attempts >= max_attempts, 'dead', 'ready'),
    event       = iif(attempts >= max_attempts, 'dead', 'expired'),
    error       = 'worker ' || :name || ' died',
    cause       = 'worker_died',
    run_at      = :now,
    lane        = NULL,  -- its turn is its new run_at (migration 015)
    finished_at = iif(attempts >= max_attempts, :now, NULL),
    children    = children,  -- runs orq_jobs_children (migration 011)
    lease_until = NULL,
    updated_at  = :now
WHERE id IN (
  SELECT j.id
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.queue = q.name AND j.state = 'running' AND j.worker = :name
)
RETURNING id, state
