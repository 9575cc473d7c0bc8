-- queue_lease_status: whether the lease of token :token still holds job :id,
-- and if not, why — so a worker whose queue_complete returned 0 (or
-- queue_fail NULL) can learn what happened. Read-only. One row: a JSON
-- object. :id and :token are >= 0 (the caller checks); :now is unix ms.
--
-- A token is id * 2^20 + lease number (claim.sql), so the token alone names
-- its job and lease. `reason` says how that lease stands, or how it ended:
--   held         the token holds the lease now, until lease_until
--   overdue      the lease ran out, but no claim has taken the job since: a
--                completion with this token still counts
--   reclaimed    the lease was lost (it ran out, or its worker was declared
--                dead) and another claim took the job
--   expired      the lease was lost the same way; no claim has taken the job since
--   failed       queue_fail with this lease ended it
--   released     queue_release with this lease ended it
--   parked       the job left its worker under this lease: it slept, awaited
--                a signal, or waited for its children (queue_sleep,
--                queue_await, queue_gather, queue_step_fail)
--   finished     the job ended under this lease: completed, died or cancelled
--   future       the job has not had this lease yet
--   wrong_job    the token is not a lease token of this job
--   unknown_job  no job has this id (never enqueued, or purged)
--
-- The audit trail says how the lease ended (the first event after its claim
-- that moved the job out of 'running') and who claimed the job next. A queue
-- may record no events (queue_configure): the job's row then answers for its
-- last lease, and for an older one only that a later lease replaced it.
WITH
-- The job's row, or one row of NULLs when there is none: an aggregate
-- without GROUP BY always answers one row, and max() of one row is its value.
row AS (
  SELECT max(id) AS id, max(state) AS state, max(event) AS event, max(leases) AS leases,
         max(token) AS token, max(worker) AS worker, max(lease_until) AS lease_until,
         max(attempts) AS attempts, max(started_at) AS started_at, max(updated_at) AS updated_at,
         max(error) AS error
  FROM orq_jobs WHERE id = :id),
job AS (
  SELECT *,
         token = :token AND state = 'running' AS live,     -- this lease, not ended
         token = :token AND state <> 'running' AS ended,   -- this lease, the job's last, ended
         token <> :token AND :token / 1048576 = :id AND :token % 1048576 BETWEEN 1 AND leases AS older
  FROM row),
claim AS (
  SELECT seq, worker FROM orq_events
  WHERE job = :id AND type = 'claimed' AND json_extract(detail, '$.token') = :token),
deadline AS (
  SELECT round(json_extract(e.detail, '$.lease_until') * 1000) AS ms
  FROM claim, orq_events AS e
  WHERE e.job = :id AND e.seq >= claim.seq AND (e.type = 'claimed' OR e.type = 'extended')
    AND json_extract(e.detail, '$.token') = :token
  ORDER BY e.seq DESC LIMIT 1),
ending AS (
  SELECT e.type, e.at, e.to_state, json_extract(e.detail, '$.error') AS error
  FROM claim, orq_events AS e
  WHERE e.job = :id AND e.seq > claim.seq AND e.from_state = 'running'
    AND e.type NOT IN ('extended', 'step', 'step_failed')  -- what a lease holder does, not how it ended
  ORDER BY e.seq LIMIT 1),
successor AS (
  SELECT e.at, e.worker, e.attempt, json_extract(e.detail, '$.token') AS token
  FROM claim, orq_events AS e
  WHERE e.job = :id AND e.seq > claim.seq AND e.type = 'claimed'
  ORDER BY e.seq LIMIT 1),
-- What is known, from the trail where it has it, else from the job's row.
facts AS (
  SELECT job.id, job.state, job.leases, job.live,
         :token / 1048576 AS owner,
         :token % 1048576 AS n,
         coalesce(claim.worker, iif(job.live OR job.ended, job.worker, NULL)) AS worker,
         iif(job.live, job.lease_until, deadline.ms) AS lease_until,
         coalesce(ending.type, iif(job.ended, job.event, NULL)) AS ended_by,
         coalesce(ending.at, iif(job.ended, job.updated_at, NULL)) AS ended_at,
         coalesce(ending.to_state, iif(job.ended, job.state, NULL)) AS ended_in,
         iif(ending.type IS NOT NULL, ending.error, iif(job.ended, job.error, NULL)) AS error,
         -- An older lease without a recorded successor: the job's last claim.
         coalesce(successor.at, iif(job.older, job.started_at, NULL)) AS next_at,
         coalesce(successor.worker, iif(job.older, job.worker, NULL)) AS next_worker,
         coalesce(successor.attempt, iif(job.older, job.attempts, NULL)) AS next_attempt,
         coalesce(successor.token, iif(job.older, job.token, NULL)) AS next_token
  FROM job LEFT JOIN claim LEFT JOIN deadline LEFT JOIN ending LEFT JOIN successor),
verdict AS (
  SELECT *,
         CASE
           WHEN id IS NULL THEN 'unknown_job'
           WHEN owner <> :id OR n = 0 THEN 'wrong_job'
           WHEN n > leases THEN 'future'
           WHEN live THEN iif(lease_until > :now, 'held', 'overdue')
           WHEN ended_by = 'failed' OR ended_by = 'released' THEN ended_by
           WHEN ended_by IN ('slept', 'awaiting', 'gathering') THEN 'parked'
           WHEN ended_by = 'expired' OR (ended_by IS NULL AND next_at IS NOT NULL)
             THEN iif(next_at IS NOT NULL, 'reclaimed', 'expired')
           ELSE 'finished'
         END AS reason,
         strftime('%Y-%m-%dT%H:%M:%fZ', lease_until / 1000.0, 'unixepoch') AS until_iso,
         strftime('%Y-%m-%dT%H:%M:%fZ', ended_at / 1000.0, 'unixepoch') AS ended_iso,
         'job ' || id || ' was claimed again by worker ' || coalesce(next_worker, '?') || ' at '
           || strftime('%Y-%m-%dT%H:%M:%fZ', next_at / 1000.0, 'unixepoch')
           || ' (attempt ' || next_attempt || ')' AS reclaim,
         ' (worker ' || coalesce(worker, '?') || ')' AS by_worker
  FROM facts)
SELECT json_object(
  'held', json(iif(reason = 'held' OR reason = 'overdue', 'true', 'false')),
  'reason', reason,
  'message', CASE reason
    WHEN 'unknown_job' THEN 'no job with id ' || :id || ' (never enqueued, or purged)'
    WHEN 'wrong_job' THEN iif(n = 0,
      'token ' || :token || ' is no lease token (lease numbers start at 1)',
      'token ' || :token || ' belongs to job ' || owner || ', not to job ' || :id)
    WHEN 'future' THEN 'job ' || id || ' has had ' || leases || ' lease' || iif(leases = 1, '', 's')
      || ' so far; token ' || :token || ' is for lease ' || n
    WHEN 'held' THEN 'job ' || id || ': this token holds lease ' || n || by_worker || ' until ' || until_iso
    WHEN 'overdue' THEN 'job ' || id || ': lease ' || n || by_worker || ' ran out at ' || until_iso
      || ', but no claim has taken the job since: this token still completes it'
    WHEN 'reclaimed' THEN 'lease lost' || coalesce(' (' || error || ')', '') || ': ' || reclaim
    WHEN 'expired' THEN 'lease lost' || coalesce(' (' || error || ')', '') || ': lease ' || n || by_worker
      || ' ended at ' || ended_iso || ' and no claim has taken job ' || id || ' since; it is ' || state
    WHEN 'parked' THEN 'job ' || id || ' left its worker under this lease at ' || ended_iso || by_worker || CASE ended_by
        WHEN 'slept' THEN ' to sleep'
        WHEN 'awaiting' THEN ' to await a signal'
        ELSE ' to wait for its children' END
      || iif(next_at IS NOT NULL, '; ' || reclaim, '; it is ' || state || ' now')
    WHEN 'finished' THEN 'job ' || id || CASE ended_by
        WHEN 'completed' THEN ' was already completed at '
        WHEN 'dead' THEN ' died at '
        WHEN 'cancelled' THEN ' was cancelled at '
        ELSE ' finished at ' END
      || ended_iso || ' under this lease' || by_worker || coalesce(': ' || error, '')
      || iif(state <> ended_in, '; it is ' || state || ' now', '')
    ELSE 'this lease already ended: queue_' || iif(reason = 'failed', 'fail', 'release') || ' at ' || ended_iso
      || iif(reason = 'failed', coalesce(' (' || error || ')', ''), '')
      || iif(next_at IS NOT NULL, '; ' || reclaim, '; job ' || id || ' is ' || state || ' now')
  END,
  'job', :id,
  'token', :token,
  'lease', n,
  'state', state,
  'worker', worker,
  'lease_until', lease_until / 1000.0,
  'ended_at', ended_at / 1000.0,
  'ended_by', iif(reason IN ('unknown_job', 'wrong_job', 'future', 'held', 'overdue'), NULL, ended_by),
  'error', error,
  'next', iif(next_at IS NULL, NULL, json_object(
    'worker', next_worker, 'at', next_at / 1000.0, 'attempt', next_attempt, 'token', next_token)))
FROM verdict
