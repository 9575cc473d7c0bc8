-- The first :n due jobs of the queue `q` that :worker may take (routable.sql),
-- in claim order: one walk of the orq_jobs_ready index. Not a statement of
-- its own: spliced into claim.sql and claim_limited.sql, which take them from
-- every queue.
SELECT id FROM orq_jobs AS job
WHERE queue = q.name AND state = 'ready' AND run_at <= :now
  AND {routable}
ORDER BY priority DESC, run_at, id
LIMIT CAST(:n AS INTEGER)
