-- queue_group_configure, after group_configure.sql / group_forget.sql: the
-- counts of the queue's groups with limits of their own, and with a rate
-- of their own, on the queue's row (flow_limits.sql reads them).
UPDATE orq_queues
SET groups_limited = (SELECT count(*) FROM orq_groups WHERE queue = :queue),
    groups_rated = (SELECT count(*) FROM orq_groups WHERE queue = :queue AND rate_limit IS NOT NULL)
WHERE name = :queue
