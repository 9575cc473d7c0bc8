-- queue_health: the alerts that are not 'ok', as the last check left them.
SELECT name, state FROM orq_alerts WHERE state <> 'ok' ORDER BY name
