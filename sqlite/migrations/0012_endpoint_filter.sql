-- 0012_endpoint_filter: an endpoint's filter, a CEL expression over the
-- message (package filter) that the fan-out evaluates for each new
-- message; NULL when the endpoint has none. It is read with the rest of
-- the endpoint, so an application without filters costs no extra read.
ALTER TABLE endpoints ADD COLUMN filter TEXT;
