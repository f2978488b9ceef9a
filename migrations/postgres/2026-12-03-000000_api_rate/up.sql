-- The API rate limit's state per token (issue K9): a GCRA's theoretical arrival time.
-- On PostgreSQL every node takes units here, so a token's rate holds across nodes; one
-- SQLite node keeps it in memory and leaves this table empty.
CREATE TABLE api_rate (
    token_id INTEGER PRIMARY KEY NOT NULL REFERENCES api_tokens (id) ON DELETE CASCADE,
    tat TIMESTAMP NOT NULL
);
