-- Signed checkpoints of the audit log: every `checkpoint_every` events, and at least
-- hourly while events arrive, the service signs (event count, head seq, head hash,
-- time) with its own Ed25519 key. The chain shows that no row was changed in place;
-- the checkpoints show that none was cut off the end or rewritten wholesale.
CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    event_count INTEGER NOT NULL,
    head_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    -- First 16 hex digits of SHA-256 of the public key: says which key signed.
    key_id TEXT NOT NULL,
    -- Ed25519 signature, base64url, over the canonical text of audit::checkpoint.
    signature TEXT NOT NULL
);
CREATE INDEX audit_checkpoints_head ON audit_checkpoints (head_seq);

-- The supervisor pages filter by officer, certificate number and action and read newest
-- first: each index ends in seq so "WHERE x = ? ORDER BY seq DESC LIMIT n" is an index
-- walk, not a sort, even at millions of rows.
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_target ON audit_events (target, seq);
CREATE INDEX audit_events_action ON audit_events (action, seq);
CREATE INDEX audit_events_office_seq ON audit_events (office_code, seq);
-- Covers the chart's count of verifications per day and outcome: an index-only scan.
CREATE INDEX audit_events_action_at ON audit_events (action, at, outcome, office_code);
