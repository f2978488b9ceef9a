-- The copy is not restored: SQL cannot base64-decode. Rows read through the JWS either way.
ALTER TABLE verifications ADD COLUMN payload TEXT;
