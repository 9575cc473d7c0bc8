-- queue_alerts_check: one rule's state after an evaluation. A rule whose
-- state and value did not change is not written: a dashboard checking every
-- few seconds on an idle queue then commits nothing (no WAL growth, no
-- wake-up of other processes' watchers).
UPDATE orq_alerts SET state = :state, since = :since, value = :value, fired_at = :fired_at
WHERE name = :name
  AND (state IS NOT :state OR since IS NOT :since OR value IS NOT :value OR fired_at IS NOT :fired_at)
