-- queue_alerts_check: the rules to evaluate, and (inside the write) their
-- state now. The registry is small and read whole.
SELECT name, queue, metric, op, threshold, for_ms, state, since, fired_at
FROM orq_alerts
ORDER BY name
