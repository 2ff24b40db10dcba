-- 0005_idempotency: responses to requests made with an Idempotency-Key,
-- given again to retries with the same key (see hookbridge.IdempotencyStore).
CREATE TABLE idempotency_keys (
    key         TEXT    NOT NULL PRIMARY KEY,
    fingerprint TEXT    NOT NULL,          -- method and path of the request
    done        INTEGER NOT NULL DEFAULT 0, -- 1 once the response is stored
    status      INTEGER NOT NULL DEFAULT 0,
    body        BLOB,
    created_at  INTEGER NOT NULL
) STRICT;

-- Retention deletes the expired ones oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
