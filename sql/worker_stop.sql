-- queue_worker_stop: a worker leaves (cleanly, or :dead when found dead).
UPDATE orq_workers SET stopped_at = :now, dead = :dead
WHERE name = :name AND stopped_at IS NULL
