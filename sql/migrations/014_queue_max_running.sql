-- orq schema v14: a queue's limit on how many of its jobs run at once, all
-- workers and processes together (issue 17). NULL, the default, is no
-- limit. The claim counts the queue's running jobs in orq_jobs_running, so
-- the count costs no more than the limit itself; jobs whose lease ran out
-- count until orq returns them (the claim does that first).
ALTER TABLE orq_queues ADD COLUMN max_running INTEGER;
