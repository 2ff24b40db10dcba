-- 0004_endpoint_health: what the dispatcher keeps about each endpoint to be
-- a good client: strict ordering on request, a pause asked for by the
-- receiver, the run of failures that leads to disabling it, and the rate
-- limit's budget shared by every claimer.

ALTER TABLE endpoints ADD COLUMN fifo INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN failing_since INTEGER;     -- start of the current run of failed attempts, NULL when none
ALTER TABLE endpoints ADD COLUMN paused_until INTEGER;      -- Retry-After: nothing is claimed before it, NULL when not paused
-- The rate limit's budget: rl_used deliveries were claimed in the second
-- that starts at rl_window (unix ms). A claim in a later second starts over.
ALTER TABLE endpoints ADD COLUMN rl_window INTEGER NOT NULL DEFAULT 0;
ALTER TABLE endpoints ADD COLUMN rl_used INTEGER NOT NULL DEFAULT 0;
-- Where a gated endpoint's non-final deliveries start, in message order:
-- every delivery of it to an earlier message is final, manual ones aside
-- (adding one resets it to NULL, the start). The gated claim walks
-- deliveries_endpoint_msg from here, not over the endpoint's whole history;
-- an index of non-final deliveries per endpoint would do the same but cost
-- every delivery of every endpoint an index entry at ingest.
ALTER TABLE endpoints ADD COLUMN pending_from TEXT;

-- The gated endpoints, whose deliveries are claimed one endpoint at a time
-- within their budget (see gatedEndpoints in endpoint_health.go); the rest
-- go through the plain claim. Both indexes are partial, so the claim's look
-- at them costs nothing while no endpoint is gated.
CREATE INDEX endpoints_gated ON endpoints (id)
    WHERE fifo <> 0 OR rate_limit IS NOT NULL OR paused_until IS NOT NULL;
CREATE INDEX applications_rate_limited ON applications (id) WHERE rate_limit IS NOT NULL;
