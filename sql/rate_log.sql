-- After a claim in a queue with a rate limit: one row in the sliding log
-- (migration 015) per job of :ids (a JSON array, the jobs just claimed) for
-- its queue's rate (grp '') and one for its group's rate (the group's own
-- over its queue's default), each open until :now + its period. The claim
-- and this are one step (the claim's transaction). The log's trigger
-- deletes the rows of the same queue or group whose window has closed.
-- (`+job.grp`: each job is found by its id, never in orq_jobs_group_running.)
INSERT INTO orq_claim_log (queue, grp, at, until)
SELECT job.queue, '', :now, :now + q.rate_ms
FROM json_each(:ids)
CROSS JOIN orq_jobs AS job ON job.id = json_each.value
JOIN orq_queues AS q ON q.name = job.queue
WHERE q.rate_limit IS NOT NULL
UNION ALL
SELECT job.queue, job.grp, :now, :now + iif(g.rate_limit IS NOT NULL, g.rate_ms, q.group_rate_ms)
FROM json_each(:ids)
CROSS JOIN orq_jobs AS job ON job.id = json_each.value
JOIN orq_queues AS q ON q.name = job.queue
LEFT JOIN orq_groups AS g ON g.queue = job.queue AND g.grp = job.grp
WHERE +job.grp IS NOT NULL AND coalesce(g.rate_limit, q.group_rate_limit) IS NOT NULL
