-- The first :n due jobs of the queue `q` that :worker may take (routable.sql)
-- and whose group has room (group_room.sql), in claim order: one walk of the
-- orq_jobs_turns index. Not a statement of its own: spliced into claim.sql
-- and claim_limited.sql, which take them from every queue.
SELECT id FROM orq_jobs AS job
WHERE queue = q.name AND state = 'ready' AND run_at <= :now
  AND {routable}
  AND coalesce({group_room}, 1) > 0
ORDER BY priority DESC, coalesce(lane, run_at), run_at, id
LIMIT CAST(:n AS INTEGER)
