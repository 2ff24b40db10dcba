-- 0009_portal_revocations: POST /api/v1/auth/logout. A portal token (an
-- application's key) that logged out is refused, with the portal sessions
-- made from it, by its nonce (see
-- hookbridge.ApplicationStore.RevokePortalToken). No foreign key: the
-- revocation outlives a deleted application, until the token would have
-- expired anyway.
CREATE TABLE portal_revocations (
    app_id     TEXT    NOT NULL,
    nonce      TEXT    NOT NULL,  -- the token's random nonce
    expires_at INTEGER NOT NULL,  -- unix milliseconds: when the token expires by itself
    PRIMARY KEY (app_id, nonce)
) STRICT;

-- Retention deletes those of expired tokens.
CREATE INDEX portal_revocations_expires ON portal_revocations (expires_at);
