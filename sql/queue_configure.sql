-- queue_configure: a queue's settings (today: whether its jobs record
-- events). Creates the queue's row if it has none yet.
INSERT INTO orq_queues (name, events, created_at) VALUES (:queue, :events, :now)
ON CONFLICT (name) DO UPDATE SET events = excluded.events WHERE events IS NOT excluded.events
