-- queue_enqueue_many: the seq its first job's enqueue takes; the others
-- follow in order (enqueue_many.sql).
SELECT seq FROM orq_next_seq
