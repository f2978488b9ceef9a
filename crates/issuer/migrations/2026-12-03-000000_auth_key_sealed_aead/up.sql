-- The sealed copies written until now (a random nonce followed by the key XORed with
-- HMAC-SHA-256(secret, label || nonce)) were encryption of our own making, which this
-- project does not keep: keys are now sealed with AES-256-GCM-SIV under a key derived
-- from the issuer secret by HKDF-SHA-256, bound to the certificate number
-- (crypto::seal_auth_key), and no code opens the old values any more. So they are
-- erased rather than left as bytes nothing reads. The keys themselves stay in force
-- (auth_key_hmac is untouched): like keys issued before 2026-12-02-000000_auth_key_sealed,
-- they cannot be shown, only re-issued.
UPDATE certificates SET auth_key_sealed = NULL;
