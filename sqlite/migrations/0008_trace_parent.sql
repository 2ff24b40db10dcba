-- 0008_trace_parent: the W3C traceparent of the request that accepted a
-- message, when tracing is on (serve --otel-endpoint), so that every
-- delivery attempt of it joins that trace, after a restart too. NULL when
-- there was none.
ALTER TABLE messages ADD COLUMN trace_parent TEXT;
