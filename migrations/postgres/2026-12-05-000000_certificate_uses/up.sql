-- The duplicate-use ledger: each distinct (保証契約番号, 発注機関, 案件番号) under which a
-- guarantee was shown with its record (outcome verified or rejected), one row however
-- often it was verified. Every Verification the API answers and every outcome page asks
-- "under which other 案件 was this number verified?"; read from `verifications` that
-- question visited every stored attempt of the number (thousands for a number verified
-- all day), here it visits only its distinct uses. `case_number` is '' when no 案件番号
-- was typed (a key column cannot be NULL and be unique on both backends); NFKC-normalised
-- 案件番号 are never empty. Written in the transaction that stores the verification.
CREATE TABLE certificate_uses (
    certificate_number TEXT NOT NULL,
    office_code TEXT NOT NULL,
    case_number TEXT NOT NULL,
    PRIMARY KEY (certificate_number, office_code, case_number)
);
INSERT INTO certificate_uses (certificate_number, office_code, case_number)
SELECT DISTINCT certificate_number, office_code, COALESCE(case_number, '')
FROM verifications
WHERE outcome IN ('verified', 'rejected');
-- The question this ledger now answers was the only reader of this index.
DROP INDEX verifications_number_office_case;
