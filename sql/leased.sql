-- What a claim returns of each job it leased (claim.sql, claim_queue.sql,
-- claim_limited.sql), in the order ops.rs reads them. RETURNING has no
-- order; the caller sorts the rows back into claim order.
RETURNING id, queue, payload, attempts, token, lease_until, priority, max_attempts, timeout_ms,
          coalesce(:lease_ms, lease_ms), run_at
