DROP INDEX audit_events_action_at;
DROP INDEX audit_events_office_seq;
DROP INDEX audit_events_action;
DROP INDEX audit_events_target;
DROP INDEX audit_events_actor;
DROP TABLE audit_checkpoints;
