-- Whether :token holds job :id's lease (a row, or none).
SELECT 1 FROM orq_jobs WHERE id = :id AND state = 'running' AND token = :token
