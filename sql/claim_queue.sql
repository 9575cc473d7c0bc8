-- queue_claim from one queue: the same claim as claim.sql (read that first),
-- for the common case of a single queue, where no merge across queues is
-- needed: one walk of the orq_jobs_ready index, as far as the queue's room
-- (room.sql: none while paused, the rest of its max_running) allows.
-- (A queue without a row in orq_queues has no limits.)
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
  ORDER BY priority DESC, run_at, id
  LIMIT coalesce((SELECT iif(room < :n, room, CAST(:n AS INTEGER))
                  FROM (SELECT {room} AS room FROM orq_queues AS q WHERE q.name = :queue)), CAST(:n AS INTEGER)))
RETURNING id, queue, payload, attempts, token, lease_until, priority, max_attempts, timeout_ms,
          coalesce(:lease_ms, lease_ms), run_at
