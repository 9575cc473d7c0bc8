-- queue_claim: lease up to :n due jobs from the unpaused queues in :queues (a
-- JSON array of names, or NULL for every queue), highest priority first, then
-- earliest run_at, then lowest id.
--
-- `pick` takes the first :n candidates of each queue from the orq_jobs_ready
-- index (one seek per queue), merges them, and keeps the best :n overall.
-- Each leased job gets the next fencing token in claim order: last_token
-- + rank. The caller advances last_token by the number claimed (token_advance.sql)
-- in the same transaction, so tokens are unique and only ever grow.
UPDATE orq_jobs
SET state       = 'running',
    attempts    = attempts + 1,
    token       = (SELECT value FROM orq_meta WHERE key = 'last_token') + pick.rank,
    worker      = :worker,
    lease_until = :now + coalesce(:lease_ms, orq_jobs.lease_ms),
    started_at  = :now,
    updated_at  = :now,
    event       = 'claimed'
FROM (
  SELECT id, row_number() OVER (ORDER BY priority DESC, run_at, id) AS rank
  FROM (
    SELECT j.id, j.priority, j.run_at
    FROM orq_queues AS q
    CROSS JOIN orq_jobs AS j ON j.id IN (
      SELECT id FROM orq_jobs
      WHERE queue = q.name AND state = 'ready' AND run_at <= :now
      ORDER BY priority DESC, run_at, id
      LIMIT :n)
    WHERE q.paused = 0
      AND q.name IN (SELECT value FROM json_each(coalesce(:queues, (SELECT json_group_array(name) FROM orq_queues))))
    ORDER BY j.priority DESC, j.run_at, j.id
    LIMIT :n)
) AS pick
WHERE orq_jobs.id = pick.id
RETURNING id, queue, payload, attempts, token, lease_until, priority, max_attempts
