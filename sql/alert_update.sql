-- queue_alerts_check: one rule's state after an evaluation.
UPDATE orq_alerts SET state = :state, since = :since, value = :value, fired_at = :fired_at
WHERE name = :name
