-- queue_await: the oldest kept signal :name that has not expired, taken
-- (deleted) for the awaiting job; its payload.
DELETE FROM orq_signals
WHERE id = (SELECT id FROM orq_signals WHERE name = :name AND expires_at > :now ORDER BY id LIMIT 1)
RETURNING payload
