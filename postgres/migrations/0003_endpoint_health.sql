-- 0003_endpoint_health: what the dispatcher keeps about each endpoint to be
-- a good client: strict ordering on request, a pause asked for by the
-- receiver, the run of failures that leads to disabling it, and the rate
-- limit's budget, shared by every instance.

ALTER TABLE endpoints
    ADD COLUMN fifo          boolean     NOT NULL DEFAULT false,
    ADD COLUMN failing_since timestamptz,          -- start of the current run of failed attempts, NULL when none
    ADD COLUMN paused_until  timestamptz,          -- Retry-After: nothing is claimed before it, NULL when not paused
    -- The rate limit's budget: rl_used deliveries were claimed in the
    -- second that starts at rl_window (unix ms). A claim in a later second
    -- starts over. Updated under the endpoint's row lock by the claim.
    ADD COLUMN rl_window     bigint      NOT NULL DEFAULT 0,
    ADD COLUMN rl_used       integer     NOT NULL DEFAULT 0,
    -- Where a gated endpoint's non-final deliveries start, in message
    -- order: every delivery of it to an earlier message is final, manual
    -- ones aside (adding one resets it to NULL, the start). The claim walks
    -- deliveries_endpoint_msg from here, not over the endpoint's whole
    -- history; an index of non-final deliveries per endpoint would do the
    -- same but cost every delivery of every endpoint an index entry.
    ADD COLUMN pending_from  text COLLATE "C";

-- The gated endpoints, whose deliveries the claim hands out one endpoint at
-- a time within their budget; partial, so they cost nothing while no
-- endpoint is gated.
CREATE INDEX endpoints_gated ON endpoints (id)
    WHERE fifo OR rate_limit IS NOT NULL OR paused_until IS NOT NULL;
CREATE INDEX applications_rate_limited ON applications (id) WHERE rate_limit IS NOT NULL;
