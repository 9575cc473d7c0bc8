-- queue_spawn: job :child was spawned by :parent (a keyed spawn that found
-- its child already there notes it once).
INSERT INTO orq_spawned (parent, child) VALUES (:parent, :child) ON CONFLICT DO NOTHING
