DROP INDEX verifications_number_office_case;
ALTER TABLE verifications DROP COLUMN case_title;
ALTER TABLE verifications DROP COLUMN case_number;
