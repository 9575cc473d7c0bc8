-- queue_unschedule.
DELETE FROM orq_schedules WHERE name = :name
