-- queue_signal: the awaits of :signal are answered (a job that stopped
-- awaiting it, by a timeout or a cancel, no longer does).
DELETE FROM orq_awaits WHERE signal = :signal
