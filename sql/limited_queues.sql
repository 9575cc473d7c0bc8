-- Whether some queue has a max_running: then a claim across queues takes the
-- form that ranks each queue's candidates (claim_limited.sql). orq_queues
-- holds a row per queue, a short scan.
SELECT EXISTS (SELECT 1 FROM orq_queues WHERE max_running IS NOT NULL)
