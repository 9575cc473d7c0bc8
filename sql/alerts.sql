-- queue_alerts: every alert rule with its state at the last check.
SELECT name, queue, metric, op, threshold, for_ms / 1000.0, state, since / 1000.0, value, fired_at / 1000.0
FROM orq_alerts
ORDER BY name
