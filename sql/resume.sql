-- queue_resume: claims take the queue's jobs again.
UPDATE orq_queues SET paused = 0 WHERE name = :queue AND paused = 1
