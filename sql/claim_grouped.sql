-- queue_claim of more than one job from one queue whose groups are limited:
-- the claim of claim_queue.sql (read that first), with each group's
-- candidates ranked and none taken past its group's room (group_room.sql),
-- so that one claim of many never takes more of a group than its limits
-- allow. The candidates are the first ones in claim order whose group has
-- room, as many as the queue's room allows; the room is computed once per
-- candidate (the filter is outside the subquery that streams them in index
-- order). The ranking sorts: ops.rs runs this form only for such queues.
UPDATE OR FAIL orq_jobs
{lease}
WHERE id IN (
  SELECT id FROM (
    SELECT id, room, row_number() OVER (PARTITION BY grp ORDER BY priority DESC, turn, run_at, id) AS nth
    FROM (SELECT * FROM (
            SELECT job.id, job.grp, job.priority, coalesce(job.lane, job.run_at) AS turn, job.run_at,
                   {group_room} AS room
            FROM orq_jobs AS job
            WHERE queue = :queue AND state = 'ready' AND run_at <= :now
              AND {routable}
            ORDER BY priority DESC, coalesce(lane, run_at), run_at, id)
          WHERE coalesce(room, 1) > 0
          ORDER BY priority DESC, turn, run_at, id
          LIMIT coalesce((SELECT iif(room < :n, room, CAST(:n AS INTEGER))
                          FROM (SELECT {room} AS room FROM orq_queues AS q WHERE q.name = :queue)),
                         CAST(:n AS INTEGER))))
  WHERE room IS NULL OR nth <= room)
{leased}
