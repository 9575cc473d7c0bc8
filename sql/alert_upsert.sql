-- queue_alert: create or replace a rule. Declaring a rule again unchanged
-- (a deployment that runs its setup at every start) keeps its state, so an
-- alert that fires does not fire again; a changed rule starts over at 'ok'.
INSERT INTO orq_alerts (name, queue, metric, op, threshold, for_ms, created_at)
VALUES (:name, :queue, :metric, :op, :threshold, :for_ms, :now)
ON CONFLICT (name) DO UPDATE SET
  queue = excluded.queue, metric = excluded.metric, op = excluded.op, threshold = excluded.threshold,
  for_ms = excluded.for_ms, state = 'ok', since = NULL, value = NULL, fired_at = NULL,
  created_at = excluded.created_at
WHERE queue IS NOT excluded.queue OR metric IS NOT excluded.metric OR op IS NOT excluded.op
   OR threshold IS NOT excluded.threshold OR for_ms IS NOT excluded.for_ms
