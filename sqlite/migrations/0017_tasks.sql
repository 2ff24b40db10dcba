-- 0017_tasks: background tasks (hookbridge.Task), bulk replays and
-- recoveries done page by page by whichever worker holds the lease.
-- No foreign keys: a task outlives its endpoint and application as a
-- record of what was done.
CREATE TABLE tasks (
    id          TEXT    PRIMARY KEY,  -- qtask_…
    kind        TEXT    NOT NULL,     -- endpoint.replay, endpoint.recover
    app_id      TEXT    NOT NULL,
    endpoint_id TEXT    NOT NULL,
    selection   TEXT    NOT NULL,     -- JSON hookbridge.TaskSelection
    status      TEXT    NOT NULL,     -- running, finished, failed
    done        INTEGER NOT NULL DEFAULT 0,
    total       INTEGER NOT NULL DEFAULT 0,
    cursor      TEXT    NOT NULL DEFAULT '',  -- last message id handled
    error       TEXT    NOT NULL DEFAULT '',
    owner       TEXT,                 -- the worker holding the lease
    lease_until INTEGER,              -- unix milliseconds; NULL: not held
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) STRICT;

-- The worker's claim looks only at running tasks.
CREATE INDEX tasks_running ON tasks (id) WHERE status = 'running';
