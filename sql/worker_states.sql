-- The one rule of a worker's state, shared as a CTE: every statement that
-- says whether a worker is alive starts with this file (ext/src/sql.rs puts
-- it in front of workers.sql, workers_dead.sql, worker_state.sql and
-- metrics_queues.sql). A worker is 'stopped' when it said so, 'dead' when it
-- was declared dead or missed three heartbeats (three times the interval it
-- registered), else 'alive'. :now is unix ms.
WITH worker_states AS (
  SELECT w.*,
         CASE WHEN w.stopped_at IS NOT NULL THEN iif(w.dead, 'dead', 'stopped')
              WHEN w.heartbeat_at + 3 * w.heartbeat_ms < :now THEN 'dead'
              ELSE 'alive' END AS state
  FROM orq_workers AS w)
