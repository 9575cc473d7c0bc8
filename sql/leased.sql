-- What a claim returns of each job it leased (claim.sql, claim_queue.sql,
-- claim_grouped.sql, claim_limited.sql), in the order ops.rs reads them.
-- RETURNING has no order; the caller sorts the rows back into claim order
-- (priority, lane, run_at, id: the last three columns).
RETURNING id, queue, payload, attempts, token, lease_until, priority, max_attempts, timeout_ms,
          coalesce(:lease_ms, lease_ms), coalesce(lane, run_at), run_at
