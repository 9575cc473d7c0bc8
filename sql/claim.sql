-- queue_claim: lease up to :n due jobs from the unpaused queues in :queues (a
-- JSON array of names, or NULL for every queue), highest priority first, then
-- earliest turn (its lane: fair shares among groups, migration 015; a job
-- without a group takes its turn at its run_at), then earliest run_at, then
-- lowest id. Jobs with routing constraints go only to a worker that meets
-- them: the routing rule of routable.sql, spliced in below.
-- (While some queue or group has a limit, ops.rs runs claim_limited.sql
-- instead, which also keeps to each queue's and group's limits.)
--
-- The inner SELECT takes the first :n candidates of each queue from the
-- orq_jobs_turns index (claim_candidates.sql: one seek per queue) of the
-- queues with room (room.sql; only a pause, while no queue has a limit),
-- merges them and keeps the best :n overall. What it writes on each job and returns: lease.sql, leased.sql.
--
-- LIMIT CAST(:n AS INTEGER), not LIMIT :n: SQLite 3.47+ folds a bare LIMIT
-- parameter into the program and then re-prepares the statement each time
-- it is bound again, which made every claim pay a full parse.
UPDATE OR FAIL orq_jobs
{lease}
WHERE id IN (
  SELECT j.id
  FROM orq_queues AS q
  CROSS JOIN orq_jobs AS j ON j.id IN ({claim_candidates})
  WHERE coalesce({room}, 1) > 0
    AND q.name IN ({queue_list})
  ORDER BY j.priority DESC, coalesce(j.lane, j.run_at), j.run_at, j.id
  LIMIT CAST(:n AS INTEGER))
{leased}
