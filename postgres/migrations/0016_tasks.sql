-- 0016_tasks: background tasks (hookbridge.Task), bulk replays and
-- recoveries done page by page by whichever instance holds the lease.
-- No foreign keys: a task outlives its endpoint and application as a
-- record of what was done.
CREATE TABLE tasks (
    id          text        PRIMARY KEY,  -- qtask_…
    kind        text        NOT NULL,     -- endpoint.replay, endpoint.recover
    app_id      text        NOT NULL,
    endpoint_id text        NOT NULL,
    selection   jsonb       NOT NULL,     -- hookbridge.TaskSelection
    status      text        NOT NULL,     -- running, finished, failed
    done        bigint      NOT NULL DEFAULT 0,
    total       bigint      NOT NULL DEFAULT 0,
    cursor      text        NOT NULL DEFAULT '',  -- last message id handled
    error       text        NOT NULL DEFAULT '',
    owner       text,                     -- the instance holding the lease
    lease_until timestamptz,              -- NULL: not held
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- The claim looks only at running tasks.
CREATE INDEX tasks_running ON tasks (id) WHERE status = 'running';
