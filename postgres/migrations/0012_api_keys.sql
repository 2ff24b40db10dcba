-- 0012_api_keys: named, scoped keys to the API (hookbridge.APIKey). Only
-- the SHA-256 of a key is kept; a revoked key is deleted.
CREATE TABLE api_keys (
    id           text        PRIMARY KEY,  -- key_…, also in the key itself
    name         text        NOT NULL,
    scope        text        NOT NULL,     -- admin, read-only, ingest, inbound, app:{app id}
    hash         text        NOT NULL,     -- hex SHA-256 of the whole key
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    last_used_at timestamptz               -- NULL: never used
);
