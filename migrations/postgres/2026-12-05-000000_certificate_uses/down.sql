CREATE INDEX verifications_number_office_case
    ON verifications (certificate_number, office_code, case_number);
DROP TABLE certificate_uses;
