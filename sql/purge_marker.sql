-- After a purge that deleted events: one 'purged' event, newer than any
-- deleted one, so no seq is ever handed out twice.
INSERT INTO orq_events (at, job, queue, type, from_state, to_state, attempt, detail)
VALUES (:now, 0, coalesce(:queue, '*'), 'purged', NULL, 'purged', 0,
        json_object('jobs', :count, 'finished_before', :cutoff / 1000.0))
