-- 0019_ready: the non-final deliveries by endpoint, in due order.
--
-- A claim that skips endpoints (the dispatcher has enough of theirs in
-- flight) walked deliveries_due past every delivery of those endpoints:
-- behind one busy endpoint's backlog, every such claim read the whole
-- backlog to find nothing. It now reads only the head of the due order,
-- and beyond it takes each other endpoint's earliest due deliveries from
-- this index (claimSkipping, delivery.go).
--
-- SQLite's index of the same name is partial on the lease as well. Here it
-- is not: a lease column in the predicate would make every claim, renewal
-- and release a non-HOT update, writing an entry into each of the table's
-- indexes. next_attempt_at is indexed already (deliveries_due), so this
-- index changes which updates are HOT not at all.
CREATE INDEX deliveries_ready ON deliveries (endpoint_id, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL;
