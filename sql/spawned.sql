-- queue_children: the jobs :id spawned, with their state, result and error,
-- as a JSON array in the order they were spawned (orq_spawned's key orders
-- them by id, and the join keeps that order).
SELECT coalesce(json_group_array(json_object(
         'id', c.id, 'queue', c.queue, 'state', c.state,
         'result', json(c.result), 'error', c.error)), '[]')
FROM orq_spawned AS s JOIN orq_jobs AS c ON c.id = s.child
WHERE s.parent = :id
