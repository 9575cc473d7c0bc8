-- queue_signal, when no job awaits :name: the signal is kept for the first
-- job that does, until :expires_at.
INSERT INTO orq_signals (name, payload, sent_at, expires_at) VALUES (:name, :payload, :now, :expires_at)
