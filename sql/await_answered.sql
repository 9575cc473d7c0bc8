-- queue_await, when a kept signal answered it at once: the job awaits
-- nothing (its note was written for the park's event).
DELETE FROM orq_awaits WHERE job = :id
