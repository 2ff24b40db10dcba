-- 0007_portal_expirations: POST /api/v1/auth/app/{app_id}/expire-all. The
-- application's portal links (and portal sessions) issued before
-- issued_before stop working at expires_at (see
-- hookbridge.ApplicationStore.ExpirePortalAccess).
CREATE TABLE portal_expirations (
    app_id        TEXT    NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    issued_before INTEGER NOT NULL,  -- unix microseconds, as tokens' issue times
    expires_at    INTEGER NOT NULL,  -- unix microseconds
    PRIMARY KEY (app_id, issued_before)
) STRICT;
