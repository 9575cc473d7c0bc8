-- The routing rule, written once: whether the job `job` may go to :worker
-- at :now. It may when the worker has every capability in `requires`
-- (capabilities come from the worker's row in orq_workers), is
-- `only_worker` if that is set, is not in `not_workers`, and, for a job
-- with an affinity (same_worker_as, migration 015), is the worker that ran
-- or runs job `affinity_job`, unless that job has no worker (yet), that
-- worker stopped (or was found dead), or `affinity_until` passed.
-- Not a statement of its own: sql.rs splices it into every claim
-- (claim_candidates.sql, claim_queue.sql, claim_grouped.sql) and
-- wait_check.sql where they name it, so a claim and queue_wait can never
-- disagree on who may take a job.
((job.requires IS NULL OR NOT EXISTS (
    SELECT 1 FROM json_each(job.requires)
    WHERE value NOT IN (SELECT value FROM json_each(coalesce(
      (SELECT capabilities FROM orq_workers WHERE name = :worker), '[]')))))
  AND (job.only_worker IS NULL OR job.only_worker = :worker)
  AND (job.not_workers IS NULL OR :worker NOT IN (SELECT value FROM json_each(job.not_workers)))
  AND (job.affinity_job IS NULL OR job.affinity_until <= :now
       OR (SELECT a.worker IS NULL OR a.worker = :worker
                  OR EXISTS (SELECT 1 FROM orq_workers AS w WHERE w.name = a.worker AND w.stopped_at IS NOT NULL)
           FROM orq_jobs AS a WHERE a.id = job.affinity_job) IS NOT 0))
