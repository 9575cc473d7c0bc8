-- queue_enqueue_many: the highest job id so far (0 for none). New jobs are
-- numbered up from it; only past the largest integer does SQLite pick ids
-- at random, which ops.rs refuses before inserting.
SELECT coalesce(max(id), 0) FROM orq_jobs
