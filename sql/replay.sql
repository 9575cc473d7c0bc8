-- queue_replay(t): every job's state as of :at, rebuilt from the events
-- alone: the last event of each job at or before :at. (Jobs purged since
-- have no events left; 'purged' markers are not jobs.) One pass over the
-- trail: with max(seq) the only aggregate, SQLite takes the other columns
-- from the row that holds it (orq_events is a view since v12, and a join
-- back on seq would scan the job rows once per job).
SELECT job, queue, workflow, to_state, attempt, worker, at / 1000.0
FROM (SELECT job, queue, workflow, to_state, attempt, worker, at, max(seq)
      FROM orq_events WHERE at <= :at AND type <> 'purged' GROUP BY job)
ORDER BY job
