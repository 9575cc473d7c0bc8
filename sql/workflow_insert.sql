-- queue_workflow: the workflow's row; its jobs are enqueued after it.
INSERT INTO orq_workflows (name, fail_fast, created_at) VALUES (:name, :fail_fast, :now)
