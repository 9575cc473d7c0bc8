-- Which limits a claim must keep, so that ops.rs picks the cheapest
-- statement that keeps them: per queue `q`, whether it has a limit
-- (max_running, rate), whether its groups have (a default, or a group's
-- own), and whether any of them is a rate (the claim then logs itself,
-- rate_log.sql). Read from the queue's row alone (the counts of its groups'
-- own limits are kept there, group_count.sql). Not a statement of its own:
-- flow_limits_queue.sql asks it of the one queue a claim names (a seek),
-- flow_limits_any.sql of every queue (orq_queues holds a row per queue;
-- cheaper than reading a claim's list of names).
SELECT q.max_running IS NOT NULL OR q.rate_limit IS NOT NULL AS queues,
       q.group_max_running IS NOT NULL OR q.group_rate_limit IS NOT NULL OR q.groups_limited > 0 AS groups,
       q.rate_limit IS NOT NULL OR q.group_rate_limit IS NOT NULL OR q.groups_rated > 0 AS rates
FROM orq_queues AS q
