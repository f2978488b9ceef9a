-- Evidence that lasts (issue K8). Each verification keeps the receipt the service
-- signed for it (a flattened JWS, NULL for outcomes without a record) and the digest
-- of the rule profile it was checked with; every profile version the service has run
-- with is kept by that digest, so a stored verification can be checked again against
-- the rules in force then.
ALTER TABLE verifications ADD COLUMN receipt TEXT;
ALTER TABLE verifications ADD COLUMN profile_digest TEXT;

CREATE TABLE rule_profiles (
    digest TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    text TEXT NOT NULL,
    first_used_at TIMESTAMP NOT NULL
);
