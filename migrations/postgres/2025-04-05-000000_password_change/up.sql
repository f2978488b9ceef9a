-- A password an administrator issued on the admin page (shown once on screen) is known
-- to two people; its holder must replace it before doing anything else.
ALTER TABLE users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
