-- queue_replay(t): every job's state as of :at, rebuilt from the events
-- alone: the last event of each job at or before :at. (Jobs purged since
-- have no events left; 'purged' markers are not jobs.)
SELECT e.job, e.queue, e.workflow, e.to_state, e.attempt, e.worker, e.at / 1000.0
FROM orq_events AS e
JOIN (SELECT job, max(seq) AS seq FROM orq_events WHERE at <= :at AND type <> 'purged' GROUP BY job) AS last
  ON last.seq = e.seq
ORDER BY e.job
