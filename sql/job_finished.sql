-- Job :id's state when it is finished (done, dead or cancelled); no row otherwise.
SELECT state FROM orq_jobs
WHERE id = :id AND (state = 'done' OR state = 'dead' OR state = 'cancelled')
