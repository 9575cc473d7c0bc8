-- queue_events: the first job at or above an id, with its enqueue's seq
-- (a step of the binary search that bounds the enqueues' arm by seq).
SELECT id, enq_seq FROM orq_jobs WHERE id >= ?1 ORDER BY id LIMIT 1
