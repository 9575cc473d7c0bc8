-- queue_claim across queues when some queue or group has a limit: the claim
-- of claim.sql (read that first), with each group's candidates ranked and
-- none taken past its group's room (group_room.sql), then each queue's
-- ranked and none taken past its queue's room (room.sql: none while
-- paused, the rest of its limits). The rankings sort the candidates, so
-- ops.rs runs this form only while some limit is set (flow_limits.sql).
UPDATE OR FAIL orq_jobs
{lease}
WHERE id IN (
  SELECT id FROM (
    SELECT id, priority, turn, run_at, queue_room,
           row_number() OVER (PARTITION BY queue ORDER BY priority DESC, turn, run_at, id) AS nth
    FROM (
      SELECT job.id, job.queue, job.priority, coalesce(job.lane, job.run_at) AS turn, job.run_at,
             q.room AS queue_room, {group_room} AS group_room,
             row_number() OVER (PARTITION BY job.queue, job.grp
                                ORDER BY job.priority DESC, coalesce(job.lane, job.run_at), job.run_at, job.id)
               AS group_nth
      FROM (SELECT q.name, {room} AS room FROM orq_queues AS q WHERE q.name IN ({queue_list})) AS q
      CROSS JOIN orq_jobs AS job ON job.id IN ({claim_candidates})
      WHERE coalesce(q.room, 1) > 0)
    WHERE group_room IS NULL OR group_nth <= group_room)
  WHERE queue_room IS NULL OR nth <= queue_room
  ORDER BY priority DESC, turn, run_at, id
  LIMIT CAST(:n AS INTEGER))
{leased}
