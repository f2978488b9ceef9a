CREATE INDEX audit_events_office_at ON audit_events (office_code, at, seq);
CREATE INDEX audit_events_action_at ON audit_events (action, at, outcome, office_code);
