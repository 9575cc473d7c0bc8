-- The routing rule, written once: whether the job `job` may go to :worker.
-- It may when the worker has every capability in `requires` (capabilities
-- come from the worker's row in orq_workers), is `only_worker` if that is
-- set, and is not in `not_workers`. Not a statement of its own: sql.rs
-- splices it into claim.sql, claim_queue.sql and wait_check.sql where they
-- name it, so a claim and queue_wait can never disagree on who may take a
-- job.
((job.requires IS NULL OR NOT EXISTS (
    SELECT 1 FROM json_each(job.requires)
    WHERE value NOT IN (SELECT value FROM json_each(coalesce(
      (SELECT capabilities FROM orq_workers WHERE name = :worker), '[]')))))
  AND (job.only_worker IS NULL OR job.only_worker = :worker)
  AND (job.not_workers IS NULL OR :worker NOT IN (SELECT value FROM json_each(job.not_workers))))
