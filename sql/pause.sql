-- queue_pause: claims skip the queue until it is resumed. A queue can be
-- paused before its first job arrives.
INSERT INTO orq_queues (name, paused, created_at) VALUES (:queue, 1, :now)
ON CONFLICT (name) DO UPDATE SET paused = 1 WHERE paused = 0
