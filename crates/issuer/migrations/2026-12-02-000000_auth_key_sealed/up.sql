-- The contractor's 「認証キー」の表示 shows the current key again, so the issuer keeps
-- it sealed under its secret (crypto::seal_auth_key; issuer-protocol.md §2 asks for the
-- HMAC only, README says why the reference issuer departs from it). NULL for keys
-- issued before this migration: those cannot be shown, only re-issued.
-- The values first written here were a hand-rolled XOR with an HMAC pad; migration
-- 2026-12-03-000000_auth_key_sealed_aead erased them, and they are now AES-256-GCM-SIV
-- under a key derived from the secret with HKDF-SHA-256.
ALTER TABLE certificates ADD COLUMN auth_key_sealed BLOB;
