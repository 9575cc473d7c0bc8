-- queue_workflows: one row per workflow, its state from its jobs' states.
SELECT w.id, w.name,
       CASE WHEN c.live > 0 THEN iif(c.dead + c.cancelled > 0 AND w.fail_fast, 'failing', 'running')
            WHEN c.dead > 0 THEN 'failed'
            WHEN c.cancelled > 0 THEN 'cancelled'
            ELSE 'done' END AS state,
       c.jobs, c.waiting, c.ready, c.running, c.done, c.dead, c.cancelled,
       w.created_at / 1000.0 AS started_at,
       iif(c.live = 0, c.finished_at / 1000.0, NULL) AS finished_at,
       w.fail_fast
FROM orq_workflows AS w
JOIN (SELECT workflow,
             count(*) AS jobs,
             sum(state = 'waiting') AS waiting, sum(state = 'ready') AS ready,
             sum(state = 'running') AS running, sum(state = 'done') AS done,
             sum(state = 'dead') AS dead, sum(state = 'cancelled') AS cancelled,
             sum(state = 'waiting' OR state = 'ready' OR state = 'running') AS live,
             max(finished_at) AS finished_at
      FROM orq_jobs WHERE workflow IS NOT NULL AND workflow_key IS NOT NULL
      GROUP BY workflow) AS c ON c.workflow = w.id
ORDER BY w.id
