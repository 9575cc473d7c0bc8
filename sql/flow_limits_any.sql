-- flow_limits.sql for a claim across queues: the limits of any queue.
SELECT coalesce(max(queues), 0), coalesce(max(groups), 0), coalesce(max(rates), 0)
FROM ({flow_limits})
