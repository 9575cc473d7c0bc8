-- queue_stats: one row per queue. Every count is a range of one partial index.
SELECT q.name AS queue,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'ready' AND run_at <= :now) AS ready,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'ready' AND run_at > :now) AS scheduled,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'running') AS running,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND (state = 'done' OR state = 'dead' OR state = 'cancelled') AND state = 'done') AS done,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND (state = 'done' OR state = 'dead' OR state = 'cancelled') AND state = 'dead') AS dead,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND (state = 'done' OR state = 'dead' OR state = 'cancelled') AND state = 'cancelled') AS cancelled,
       q.paused AS paused,
       (SELECT (:now - min(run_at)) / 1000.0 FROM orq_jobs
         WHERE queue = q.name AND state = 'ready' AND run_at <= :now) AS oldest_ready_age,
       (SELECT count(*) FROM orq_jobs WHERE queue = q.name AND state = 'waiting') AS waiting,
       -- How long finished jobs are kept, in seconds (null: forever).
       json_object('done', q.retention_done_ms / 1000.0, 'dead', q.retention_dead_ms / 1000.0,
                   'cancelled', q.retention_cancelled_ms / 1000.0) AS retention
FROM orq_queues AS q
ORDER BY q.name
