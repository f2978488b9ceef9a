-- Failed contractor sign-ins, for the throttle (as the service's): per login and per
-- peer address within a window. The login is kept only as SHA-256 of what was typed,
-- so a password typed into the login field is not stored. Pruned to the window.
CREATE TABLE signin_failures (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    login_sha256 TEXT NOT NULL,
    address TEXT NOT NULL,
    failed_at BIGINT NOT NULL
);
CREATE INDEX signin_failures_login ON signin_failures (login_sha256, failed_at);
CREATE INDEX signin_failures_address ON signin_failures (address, failed_at);
