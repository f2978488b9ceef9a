-- Verifications per Japan-time day, office and outcome, kept by audit::append in the
-- same transaction as the event. The supervisor's chart reads ≤ 31 × 6 rows here
-- instead of counting hundreds of thousands of events. Derived data, outside the hash
-- chain: audit verify checks the events, and this table can be rebuilt from them.
CREATE TABLE audit_daily (
    day TEXT NOT NULL,
    office_code TEXT NOT NULL,
    outcome TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (day, office_code, outcome)
);

INSERT INTO audit_daily (day, office_code, outcome, n)
SELECT to_char(at + interval '9 hours', 'YYYY-MM-DD'), office_code, outcome, COUNT(*)
FROM audit_events WHERE action = 'verify'
GROUP BY 1, 2, 3;
