-- queue_claim from one queue: the same claim as claim.sql (read that first),
-- for the common case of a single queue, where no merge across queues is
-- needed: one walk of the orq_jobs_turns index, as far as the queue's room
-- (room.sql: none while paused, the rest of its limits) allows, past jobs
-- whose group has no room (group_room.sql). Exact for a claim of one, and
-- for any claim while no group of the queue is limited; else ops.rs runs
-- claim_grouped.sql, which also ranks each group's candidates.
-- (A queue without a row in orq_queues has no limits.)
UPDATE OR FAIL orq_jobs
{lease}
WHERE id IN (
  SELECT id FROM orq_jobs AS job
  WHERE queue = :queue AND state = 'ready' AND run_at <= :now
    AND {routable}
    AND coalesce({group_room}, 1) > 0
  ORDER BY priority DESC, coalesce(lane, run_at), run_at, id
  LIMIT coalesce((SELECT iif(room < :n, room, CAST(:n AS INTEGER))
                  FROM (SELECT {room} AS room FROM orq_queues AS q WHERE q.name = :queue)), CAST(:n AS INTEGER)))
{leased}
