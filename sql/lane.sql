-- The lane of a new job of group :grp in :queue (its turn among the
-- groups; migration 015): start-time fair queueing. The job starts after
-- its group's newest job (by id: its turn is the group's latest, unless it
-- was scheduled again), and not before the queue's virtual time,
-- the turn at the head of its ready jobs of the same priority (a group that
-- was idle joins the current round: it is not punished for its past), and
-- not before it is due. A batch of jobs takes this lane and the ones after.
-- Two seeks (orq_jobs_turns, orq_jobs_group); only enqueues with a group
-- run it.
SELECT max(:run_at, coalesce(head, :run_at), coalesce(next, :run_at))
FROM (SELECT
  (SELECT coalesce(lane, run_at) FROM orq_jobs
   WHERE queue = :queue AND state = 'ready' AND priority = :priority
   ORDER BY priority DESC, coalesce(lane, run_at) LIMIT 1) AS head,
  (SELECT coalesce(lane, run_at) + 1 FROM orq_jobs
   WHERE queue = :queue AND grp = :grp
   ORDER BY id DESC LIMIT 1) AS next)
