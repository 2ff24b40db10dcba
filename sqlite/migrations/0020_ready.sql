-- 0020_ready: the due deliveries nobody holds a lease on, by endpoint.
--
-- The claim walks deliveries_due in due order and passes over what it may
-- not take: deliveries leased (in flight, or handed over and waiting for
-- their endpoint) and those of the endpoints the dispatcher skips (it has
-- enough of theirs in flight). With a backlog behind one busy endpoint
-- that walk grew with the backlog, on the writer, for every claim. The
-- claim now walks deliveries_due only so far (see claimDeliveries), and
-- beyond that takes each other endpoint's earliest due deliveries from
-- this index, whose entries are exactly the ones a claim could take.
--
-- Partial on the lease, so it costs no write where deliveries are leased
-- as they are made (handed over to the dispatcher, the common path) and
-- finished under that lease: a row enters it when it is due and unleased
-- (written for the claimer, released, or given a retry) and leaves it when
-- it is claimed or final.
CREATE INDEX deliveries_ready ON deliveries (endpoint_id, next_attempt_at)
    WHERE next_attempt_at IS NOT NULL AND lease_until IS NULL;
