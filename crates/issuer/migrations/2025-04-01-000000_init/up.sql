-- The reference issuer's store. Timestamps a person may read are RFC 3339 text in
-- Japan time; instants only compared by code (lockouts, sessions) are Unix seconds.

-- Ed25519 signing keys. The private half lives only in the keys directory
-- ({kid}.pem, mode 0600); here is what the JWKS and the registry block need.
CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY NOT NULL,
    public_x TEXT NOT NULL,
    not_before TEXT NOT NULL,
    active BOOLEAN NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    retired_at TEXT
);

-- Contractors (受注者) who sign in to view and print their certificates.
CREATE TABLE contractors (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    login TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);

-- One row per guarantee. auth_key_hmac is HMAC-SHA-256(issuer secret, auth key):
-- the key itself is never stored (issuer-protocol.md §2).
CREATE TABLE certificates (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    certificate_number TEXT NOT NULL UNIQUE,
    contractor_id INTEGER REFERENCES contractors(id),
    auth_key_hmac BLOB NOT NULL,
    status TEXT NOT NULL,
    latest_revision INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Every signed revision, its JWS kept byte for byte as it is served.
CREATE TABLE revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    certificate_id INTEGER NOT NULL REFERENCES certificates(id),
    revision INTEGER NOT NULL,
    kid TEXT NOT NULL REFERENCES signing_keys(kid),
    payload TEXT NOT NULL,
    jws TEXT NOT NULL,
    issued_at TEXT NOT NULL,
    UNIQUE (certificate_id, revision)
);

-- Relying parties allowed to look up certificates; only SHA-256 of the token is kept.
CREATE TABLE clients (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    name TEXT NOT NULL UNIQUE,
    token_sha256 BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked BOOLEAN NOT NULL DEFAULT 0
);

-- Wrong-key lookups, per canonical number whether or not it exists (so that a lockout
-- does not reveal which numbers exist). Pruned to the last hour.
CREATE TABLE lookup_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    certificate_number TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX lookup_failures_number ON lookup_failures (certificate_number, failed_at);

-- Numbers whose lookups answer 429 until locked_until (Unix seconds).
CREATE TABLE lookup_lockouts (
    certificate_number TEXT PRIMARY KEY NOT NULL,
    locked_until BIGINT NOT NULL
);

-- Contractor sign-in sessions; the cookie carries a random id, the table its SHA-256.
CREATE TABLE sessions (
    id_sha256 BLOB PRIMARY KEY NOT NULL,
    contractor_id INTEGER NOT NULL REFERENCES contractors(id),
    csrf_token TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
