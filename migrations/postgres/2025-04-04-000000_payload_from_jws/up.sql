-- The payload is the JWS's own payload part: keeping a second copy made each row
-- about a kilobyte longer (past SQLite's one-page limit, so every row spilled onto an
-- overflow page) and could in principle disagree with what was signed. It is decoded
-- from `jws` when read (`VerificationRow::payload_text`).
ALTER TABLE verifications DROP COLUMN payload;
