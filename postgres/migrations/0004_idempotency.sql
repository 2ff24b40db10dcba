-- 0004_idempotency: responses to requests made with an Idempotency-Key,
-- given again to retries with the same key (see hookbridge.IdempotencyStore).
CREATE TABLE idempotency_keys (
    key         text        NOT NULL PRIMARY KEY,
    fingerprint text        NOT NULL,               -- method and path of the request
    done        boolean     NOT NULL DEFAULT false, -- true once the response is stored
    status      integer     NOT NULL DEFAULT 0,
    body        bytea,
    created_at  timestamptz NOT NULL
);

-- Retention deletes the expired ones oldest first.
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
