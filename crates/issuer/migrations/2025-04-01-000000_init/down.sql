DROP TABLE sessions;
DROP TABLE lookup_lockouts;
DROP TABLE lookup_failures;
DROP TABLE clients;
DROP TABLE revisions;
DROP TABLE certificates;
DROP TABLE contractors;
DROP TABLE signing_keys;
