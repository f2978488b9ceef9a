DROP TABLE audit_events;
DROP TABLE number_locks;
DROP TABLE verifications;
DROP TABLE api_tokens;
DROP TABLE signin_failures;
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE offices;
