-- queue_resources: per queue, what its runs used (from orq_runs).
SELECT queue, count(*) AS runs,
       sum(outcome = 'done') AS done,
       avg(wall_ms) / 1000.0 AS wall_avg, max(wall_ms) / 1000.0 AS wall_max,
       sum(wall_ms) / 1000.0 AS wall_total,
       avg(user_ms + sys_ms) / 1000.0 AS cpu_avg, sum(user_ms + sys_ms) / 1000.0 AS cpu_total,
       max(max_rss_kb) AS max_rss_kb
FROM orq_runs
GROUP BY queue
ORDER BY queue
