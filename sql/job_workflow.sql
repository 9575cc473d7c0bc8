-- The workflow of a job, if any.
SELECT workflow FROM orq_jobs WHERE id = :id
