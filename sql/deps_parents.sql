-- The parents named by depends_on, as they are now (a missing one has no row).
SELECT id, state FROM orq_jobs WHERE id IN (SELECT value FROM json_each(:ids))
