-- A queue's row, with every setting at its default, if it has none yet
-- (queue_configure.sql then changes the settings given).
INSERT INTO orq_queues (name, created_at) VALUES (:queue, :now) ON CONFLICT (name) DO NOTHING
