ALTER TABLE certificates DROP COLUMN auth_key_sealed;
