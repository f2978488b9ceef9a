-- The verification service's own tables. Times are UTC (diesel Timestamp); pages show
-- them in Japan time.

CREATE TABLE offices (
    code TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY NOT NULL,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('officer', 'supervisor', 'admin')),
    office_code TEXT NOT NULL REFERENCES offices (code),
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT 0,
    created_at TIMESTAMP NOT NULL
);

-- A browser session. The cookie holds a random id; only its SHA-256 is stored, so a
-- copy of the database cannot be replayed as a cookie. user_id is NULL before sign-in
-- (the sign-in form needs a CSRF token too).
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    user_id INTEGER REFERENCES users (id) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen TIMESTAMP NOT NULL
);
CREATE INDEX sessions_last_seen ON sessions (last_seen);

CREATE TABLE signin_failures (
    id INTEGER PRIMARY KEY NOT NULL,
    login TEXT NOT NULL,
    address TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX signin_failures_login ON signin_failures (login, at);
CREATE INDEX signin_failures_address ON signin_failures (address, at);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    office_code TEXT NOT NULL REFERENCES offices (code),
    scope TEXT NOT NULL CHECK (scope IN ('verify', 'audit')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    last_used_at TIMESTAMP
);

-- Every attempt, of every outcome. The auth key is never stored: key_fingerprint is an
-- HMAC under the service's secret, enough to tell "same key again" and nothing more.
CREATE TABLE verifications (
    id TEXT PRIMARY KEY NOT NULL,
    office_code TEXT NOT NULL,
    actor TEXT NOT NULL,
    client_ref TEXT,
    certificate_number TEXT NOT NULL,
    key_fingerprint TEXT NOT NULL,
    issuer_id TEXT,
    outcome TEXT NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    kid TEXT,
    revision INTEGER,
    jws TEXT,
    payload TEXT,
    rules TEXT NOT NULL DEFAULT '[]',
    expected TEXT NOT NULL DEFAULT '{}',
    detail TEXT
);
CREATE INDEX verifications_office_time ON verifications (office_code, checked_at);
CREATE INDEX verifications_number_time ON verifications (certificate_number, checked_at);

-- The service's own brute-force guard, kept here so a restart does not clear it.
CREATE TABLE number_locks (
    certificate_number TEXT PRIMARY KEY NOT NULL,
    locked_until TIMESTAMP NOT NULL
);

-- Append-only, hash-chained: hash = SHA-256(canonical row || prev_hash).
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY NOT NULL,
    at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    office_code TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    outcome TEXT NOT NULL,
    address TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_office_at ON audit_events (office_code, at, seq);
CREATE INDEX audit_events_at ON audit_events (at, seq);
