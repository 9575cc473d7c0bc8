-- What a claim writes on each job it leases, written once for claim.sql,
-- claim_queue.sql, claim_grouped.sql and claim_limited.sql. Each lease gets
-- a fencing token that no other lease of any job ever has: the job's id times 2^20 plus its
-- lease number, so a token also grows with every new lease of the same job.
SET state       = 'running',
    attempts    = attempts + 1,
    leases      = leases + 1,
    token       = id * 1048576 + (leases + 1) % 1048576,
    worker      = :worker,
    lease_until = :now + coalesce(:lease_ms, lease_ms),
    started_at  = :now,
    updated_at  = :now,
    event       = 'claimed'
