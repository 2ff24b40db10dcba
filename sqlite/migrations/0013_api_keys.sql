-- 0013_api_keys: named, scoped keys to the API (hookbridge.APIKey). Only
-- the SHA-256 of a key is kept; a revoked key is deleted.
CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,  -- key_…, also in the key itself
    name         TEXT    NOT NULL,
    scope        TEXT    NOT NULL,     -- admin, read-only, ingest, inbound, app:{app id}
    hash         TEXT    NOT NULL,     -- hex SHA-256 of the whole key
    created_at   INTEGER NOT NULL,     -- unix milliseconds
    updated_at   INTEGER NOT NULL,
    last_used_at INTEGER               -- NULL: never used
) STRICT;
