-- Per-server settings of the runner's process pool (STDIO servers). 0 and '' mean "the
-- runner's default", so existing rows keep today's behaviour.
ALTER TABLE servers
  ADD COLUMN isolation text NOT NULL DEFAULT 'shared'
    CHECK (isolation IN ('shared', 'per-user', 'per-session')),
  ADD COLUMN min_processes integer NOT NULL DEFAULT 0 CHECK (min_processes >= 0),
  ADD COLUMN max_processes integer NOT NULL DEFAULT 0 CHECK (max_processes >= 0),
  ADD COLUMN max_in_flight_per_process integer NOT NULL DEFAULT 0
    CHECK (max_in_flight_per_process >= 0),
  ADD COLUMN queue_size integer NOT NULL DEFAULT 0 CHECK (queue_size >= 0),
  ADD COLUMN queue_timeout_ms integer NOT NULL DEFAULT 0 CHECK (queue_timeout_ms >= 0),
  ADD COLUMN idle_timeout_ms integer NOT NULL DEFAULT 0 CHECK (idle_timeout_ms >= 0),
  ADD COLUMN request_timeout_ms integer NOT NULL DEFAULT 0 CHECK (request_timeout_ms >= 0),
  ADD COLUMN cwd text NOT NULL DEFAULT '',
  ADD COLUMN limit_address_space_mb bigint NOT NULL DEFAULT 0
    CHECK (limit_address_space_mb >= 0),
  ADD COLUMN limit_cpu_seconds bigint NOT NULL DEFAULT 0 CHECK (limit_cpu_seconds >= 0),
  ADD COLUMN limit_open_files bigint NOT NULL DEFAULT 0 CHECK (limit_open_files >= 0),
  ADD COLUMN limit_processes bigint NOT NULL DEFAULT 0 CHECK (limit_processes >= 0),
  ADD CONSTRAINT servers_min_within_max
    CHECK (max_processes = 0 OR min_processes <= max_processes);
