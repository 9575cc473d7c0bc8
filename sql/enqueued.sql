-- The job's 'enqueued' event, written on its row by the INSERT that makes
-- it (migration 012): the state it starts in (NULL when its queue records
-- no events; a queue not registered yet records them) and the event's
-- detail. Not a statement of its own: sql.rs splices it into enqueue.sql
-- and enqueue_many.sql, after their enq_seq. No function calls (see
-- migration 007): iif is compiled inline.
iif((SELECT events FROM orq_queues WHERE name = :queue) IS NOT 0, :state, NULL),
'{"run_at":' || (:run_at / 1000.0) || ',"priority":' || :priority
  || iif(:waiting_on > 0, ',"waiting_on":' || :waiting_on, '') || '}'
