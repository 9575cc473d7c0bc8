-- queue_limits: every limit in force, with how many of its jobs run now and
-- how many claims the rate's window holds. One row per queue with a limit
-- of its own (scope 'queue'), one per queue with limits for each of its
-- groups ('each group'), and one per group ('group') that has limits of its
-- own or, under its queue's group limits, runs jobs or holds claims in a
-- window now, with the limits that apply to it. (`+r.grp`: the running
-- jobs are found in orq_jobs_running, not by walking every grouped job.)
SELECT name, grp, max_running, running, rate_limit, rate_per, rate_used, scope FROM (
  SELECT q.name, NULL AS grp, q.max_running,
         (SELECT count(*) FROM orq_jobs AS r WHERE r.queue = q.name AND r.state = 'running') AS running,
         q.rate_limit, q.rate_ms / 1000.0 AS rate_per,
         iif(q.rate_limit IS NULL, NULL,
             (SELECT count(*) FROM orq_claim_log AS l WHERE l.queue = q.name AND l.grp = '' AND l.until > :now))
           AS rate_used,
         'queue' AS scope, 0 AS rank
  FROM orq_queues AS q
  WHERE q.max_running IS NOT NULL OR q.rate_limit IS NOT NULL
  UNION ALL
  SELECT q.name, NULL, q.group_max_running, NULL, q.group_rate_limit, q.group_rate_ms / 1000.0, NULL,
         'each group', 1
  FROM orq_queues AS q
  WHERE q.group_max_running IS NOT NULL OR q.group_rate_limit IS NOT NULL
  UNION ALL
  SELECT s.queue, s.grp, coalesce(g.max_running, q.group_max_running),
         (SELECT count(*) FROM orq_jobs AS r INDEXED BY orq_jobs_group_running
          WHERE r.queue = s.queue AND r.grp = s.grp AND r.state = 'running'),
         coalesce(g.rate_limit, q.group_rate_limit),
         iif(g.rate_limit IS NOT NULL, g.rate_ms, q.group_rate_ms) / 1000.0,
         iif(coalesce(g.rate_limit, q.group_rate_limit) IS NULL, NULL,
             (SELECT count(*) FROM orq_claim_log AS l WHERE l.queue = s.queue AND l.grp = s.grp AND l.until > :now)),
         'group', 2
  FROM (SELECT g.queue, g.grp FROM orq_queues AS q CROSS JOIN orq_groups AS g ON g.queue = q.name
        UNION
        SELECT r.queue, r.grp FROM orq_queues AS q
        CROSS JOIN orq_jobs AS r ON r.queue = q.name AND r.state = 'running'
        WHERE +r.grp IS NOT NULL AND (q.group_max_running IS NOT NULL OR q.group_rate_limit IS NOT NULL)
        UNION
        SELECT l.queue, l.grp FROM orq_queues AS q
        CROSS JOIN orq_claim_log AS l ON l.queue = q.name AND l.grp <> '' AND l.until > :now) AS s
  JOIN orq_queues AS q ON q.name = s.queue
  LEFT JOIN orq_groups AS g ON g.queue = s.queue AND g.grp = s.grp)
ORDER BY name, rank, grp
