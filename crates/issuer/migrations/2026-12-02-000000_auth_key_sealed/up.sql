-- The contractor's 「認証キー」の表示 shows the current key again, so the issuer keeps
-- it sealed under its secret (crypto::seal_auth_key): a random nonce followed by the
-- key XORed with HMAC-SHA-256(secret, label || nonce). NULL for keys issued before this
-- migration: those cannot be shown, only re-issued.
ALTER TABLE certificates ADD COLUMN auth_key_sealed BLOB;
