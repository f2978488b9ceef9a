-- Two indexes on audit_events that no query uses any more, dropped because every
-- appended event paid for them (two of the nine B-tree inserts a verification makes):
-- * audit_events_office_at (office_code, at, seq): pages turn dates into a seq range
--   first, so an office's page walks audit_events_office_seq instead.
-- * audit_events_action_at (action, at, outcome, office_code): covered the chart's
--   count per day, which now reads audit_daily. Only `rebuild_daily` (a full recount,
--   run by hand or after a bulk load) scanned it; it now walks audit_events_action.
DROP INDEX audit_events_office_at;
DROP INDEX audit_events_action_at;
