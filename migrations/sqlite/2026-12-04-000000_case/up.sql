-- 案件 (case): the orderer's own contract a guarantee is accepted for, typed by the
-- officer (案件番号 and 案件名, each at most 100 characters after NFKC, NULL when not
-- typed). The index serves the duplicate-use question "under which other 案件 was this
-- certificate number verified?", asked with every Verification the API answers.
ALTER TABLE verifications ADD COLUMN case_number TEXT;
ALTER TABLE verifications ADD COLUMN case_title TEXT;
CREATE INDEX verifications_number_office_case
    ON verifications (certificate_number, office_code, case_number);
