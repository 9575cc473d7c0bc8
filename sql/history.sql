-- queue_history(id): the job's events in order.
SELECT seq, at / 1000.0, type, from_state, to_state, worker, attempt, detail
FROM orq_events WHERE job = :id ORDER BY seq
