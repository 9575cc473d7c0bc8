-- orq schema v6: alert rules over queue_metrics. queue_alerts_check()
-- evaluates every rule and moves it ok -> pending -> firing once its
-- condition has held for for_ms, and back to ok when it stops holding. The
-- rules are few and read whole, so there is no index beyond the name.
CREATE TABLE orq_alerts (
  name       TEXT PRIMARY KEY,
  queue      TEXT,                         -- NULL: the rule holds if any queue crosses
  metric     TEXT NOT NULL,                -- a counter or gauge of queue_metrics
  op         TEXT NOT NULL CHECK (op = '>' OR op = '>=' OR op = '<' OR op = '<=' OR op = '=' OR op = '!='),
  threshold  REAL NOT NULL,
  for_ms     INTEGER NOT NULL DEFAULT 0,   -- how long the condition must hold before firing
  state      TEXT NOT NULL DEFAULT 'ok' CHECK (state = 'ok' OR state = 'pending' OR state = 'firing'),
  since      INTEGER,                      -- unix ms when the condition started holding
  value      REAL,                         -- the value at the last check
  fired_at   INTEGER,                      -- unix ms of the last move to firing
  created_at INTEGER NOT NULL
) WITHOUT ROWID;
