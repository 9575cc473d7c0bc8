-- queue_claim across queues when some queue has a max_running: the claim of
-- claim.sql (read that first), with each queue's candidates ranked and none
-- taken past its room (room.sql: none while paused, the rest of its
-- max_running). The ranking sorts the candidates, so ops.rs runs this form
-- only while some queue has a limit (limited_queues.sql).
UPDATE OR FAIL orq_jobs
{lease}
WHERE id IN (
  SELECT id FROM (
    SELECT j.id, j.priority, j.run_at, q.room,
           row_number() OVER (PARTITION BY j.queue ORDER BY j.priority DESC, j.run_at, j.id) AS nth
    FROM (SELECT q.name, {room} AS room FROM orq_queues AS q WHERE q.name IN ({queue_list})) AS q
    CROSS JOIN orq_jobs AS j ON j.id IN ({claim_candidates})
    WHERE coalesce(q.room, 1) > 0)
  WHERE room IS NULL OR nth <= room
  ORDER BY priority DESC, run_at, id
  LIMIT CAST(:n AS INTEGER))
{leased}
