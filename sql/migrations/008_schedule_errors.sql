-- orq schema v8: a schedule that cannot fire is set aside, with its reason.
--
-- Why: a schedule whose next run cannot be computed (it would fall after
-- 9999-12-31T23:59:59Z, the latest time orq accepts) or whose row cannot be
-- read as a schedule (written by hand, or by an older orq that accepted an
-- @every beyond ten years) used to fail every claim on every queue, since
-- each claim fires the due schedules first. Now the claim sets it aside:
-- `error` says why, and next_run_at holds the largest integer, so the
-- orq_schedules_due index never finds it due again (next_run_at is NOT NULL
-- since v4, which ALTER TABLE cannot change). queue_schedules shows such a
-- schedule's next run as NULL; queue_schedule replacing it clears the error.

ALTER TABLE orq_schedules ADD COLUMN error TEXT;
