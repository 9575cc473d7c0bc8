-- queue_claim from one queue: the same claim as claim.sql (read that first),
-- for the common case of a single queue, where no merge across queues is
-- needed: one walk of the orq_jobs_ready index.
UPDATE OR FAIL orq_jobs
SET state       = 'running',
    attempts    = attempts + 1,
    leases      = leases + 1,
    token       = id * 1048576 + (leases + 1) % 1048576,
    worker      = :worker,
    lease_until = :now + coalesce(:lease_ms, lease_ms),
    started_at  = :now,
    updated_at  = :now,
    event       = 'claimed'
WHERE id IN (
  SELECT id FROM orq_jobs AS job
  WHERE queue = :queue AND state = 'ready' AND run_at <= :now
    AND {routable}
    AND NOT EXISTS (SELECT 1 FROM orq_queues WHERE name = :queue AND paused)
  ORDER BY priority DESC, run_at, id
  LIMIT CAST(:n AS INTEGER))
RETURNING id, queue, payload, attempts, token, lease_until, priority, max_attempts, timeout_ms,
          coalesce(:lease_ms, lease_ms), run_at
