-- queue_signal: kept signals whose time ran out go.
DELETE FROM orq_signals WHERE expires_at <= :now
