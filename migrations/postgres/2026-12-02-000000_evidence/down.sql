DROP TABLE rule_profiles;
ALTER TABLE verifications DROP COLUMN profile_digest;
ALTER TABLE verifications DROP COLUMN receipt;
