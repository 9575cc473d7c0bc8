-- queue_alert_remove: drop a rule.
DELETE FROM orq_alerts WHERE name = :name
