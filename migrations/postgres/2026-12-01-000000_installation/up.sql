-- Facts about this installation as a whole. `kind` = `demo` marks a database that
-- `kakunin serve --demo` created for itself: the demo seeds accounts with published
-- passwords, so it refuses any other database, and `serve` without --demo refuses a
-- database that holds them.
CREATE TABLE installation (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
