-- Deletes finished jobs (done, dead, cancelled) that are old enough; their
-- events, runs and dependency edges go with them (triggers). Two callers:
-- * queue_purge gives :cutoff: the jobs of :queue (NULL: every queue) that
--   finished at or before it.
-- * retention (maintenance.rs) gives :cutoff NULL: each queue's own
--   retention per state (orq_queues.retention_*_ms, NULL: forever), counted
--   back from :now.
-- Always kept:
-- * the job with the highest id, until a newer one exists: SQLite numbers a
--   new job after the highest id there is, so ids, and the lease tokens made
--   from them, are never handed out twice; it also holds the newest
--   enqueue's seq (migration 012);
-- * the job that owns the newest stored event, when no enqueue is newer,
--   for the same reason: event seqs (a purge also adds a marker event
--   first, purge_marker.sql, which then is the newest and owns no job);
-- * a job with a child that has not finished: the child reads its result
--   (queue_parent_results) when it runs.
-- At most :limit jobs (negative: all), each slice its own transaction in
-- autocommit (txn::in_slices) or one small slice per write (retention).
-- Every range is one of orq_jobs_finished (queue, state, finished_at).
WITH ages (queue, state, cutoff) AS (
  SELECT name, 'done', coalesce(:cutoff, :now - retention_done_ms) FROM orq_queues
  WHERE name = coalesce(:queue, name)
  UNION ALL
  SELECT name, 'dead', coalesce(:cutoff, :now - retention_dead_ms) FROM orq_queues
  WHERE name = coalesce(:queue, name)
  UNION ALL
  SELECT name, 'cancelled', coalesce(:cutoff, :now - retention_cancelled_ms) FROM orq_queues
  WHERE name = coalesce(:queue, name)
)
DELETE FROM orq_jobs
WHERE id IN (
  SELECT j.id
  FROM ages AS a
  CROSS JOIN orq_jobs AS j ON j.queue = a.queue AND j.state = a.state AND j.finished_at <= a.cutoff
                          AND (j.state = 'done' OR j.state = 'dead' OR j.state = 'cancelled')
  WHERE j.id < (SELECT max(id) FROM orq_jobs)
    AND j.id IS NOT (SELECT job FROM orq_events_stored
                     WHERE seq = (SELECT max(seq) FROM orq_events_stored)
                       AND seq > (SELECT enq_seq FROM orq_jobs WHERE id = (SELECT max(id) FROM orq_jobs)))
    AND NOT EXISTS (SELECT 1 FROM orq_deps AS d JOIN orq_jobs AS c ON c.id = d.child
                    WHERE d.parent = j.id AND (c.state = 'waiting' OR c.state = 'ready' OR c.state = 'running'))
  LIMIT :limit
)
