-- 0015_endpoint_auth: how the dispatcher authenticates to a receiver
-- beyond the signature. First, an endpoint's client certificate, for receivers
-- that demand mutual TLS. The endpoint row carries only its version
-- (mtls_version: > 0 while one is set, never back to a value it had; see
-- storekit's endpointauth.go), read with the rest of the endpoint, so that an
-- endpoint without one costs the dispatcher no extra read; the material
-- is read only when the version changes. key is sealed for the endpoint.
ALTER TABLE endpoints ADD COLUMN mtls_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE endpoint_mtls (
    endpoint_id TEXT    NOT NULL PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    cert        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    ca          TEXT    NOT NULL DEFAULT '',
    not_after   INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- The endpoint's OAuth 2.0 client credentials, for receivers that demand a
-- bearer token: the same scheme, oauth_version on the endpoint row, the
-- client secret sealed for the endpoint; scopes a JSON array.
ALTER TABLE endpoints ADD COLUMN oauth_version INTEGER NOT NULL DEFAULT 0;

CREATE TABLE endpoint_oauth (
    endpoint_id   TEXT    NOT NULL PRIMARY KEY REFERENCES endpoints (id) ON DELETE CASCADE,
    token_url     TEXT    NOT NULL,
    client_id     TEXT    NOT NULL,
    client_secret TEXT    NOT NULL,
    scopes        TEXT    NOT NULL DEFAULT '[]',
    audience      TEXT    NOT NULL DEFAULT '',
    updated_at    INTEGER NOT NULL
) STRICT;
