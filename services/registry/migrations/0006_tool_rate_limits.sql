-- Per-user rate limits of single tools, set on tool overrides (0 = the tool has no limit of
-- its own), and the record of every tools/call that the edge passes on.
ALTER TABLE tool_overrides
  ADD COLUMN user_requests_per_minute integer NOT NULL DEFAULT 0
    CHECK (user_requests_per_minute >= 0);

-- One row per tools/call, drained from the edge's Redis stream by the registry. Not part of the
-- configuration: no revision trigger. Arguments are never recorded. `stream_id` (the Redis
-- entry id) makes the drain idempotent when a batch is read twice.
CREATE TABLE tool_call_audit (
  id            bigserial PRIMARY KEY,
  stream_id     text NOT NULL UNIQUE,
  called_at     timestamptz NOT NULL,
  user_email    text NOT NULL DEFAULT '',
  endpoint_name text NOT NULL,
  tool_name     text NOT NULL,
  outcome       text NOT NULL,
  duration_ms   bigint NOT NULL CHECK (duration_ms >= 0)
);
CREATE INDEX tool_call_audit_user_time_idx ON tool_call_audit (user_email, called_at);
CREATE INDEX tool_call_audit_time_idx ON tool_call_audit (called_at);
