-- After a claim of :count jobs: move the fencing-token counter past them.
UPDATE orq_meta SET value = value + :count WHERE key = 'last_token'
