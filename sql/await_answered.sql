-- queue_await, when a kept signal answered it at once: the job awaits
-- nothing (its park, await_park.sql, read the note for its event's detail).
DELETE FROM orq_awaits WHERE job = :id
