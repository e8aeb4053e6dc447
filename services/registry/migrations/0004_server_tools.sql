-- The tool names each server last reported, as the router fetched them: apply checks against
-- them that no namespace would show a name over MCP's limit or one two tools share. Not
-- configuration: no revision trigger, no audit. A server's row goes with the server.
CREATE TABLE server_tools (
  server_name text PRIMARY KEY,
  tools       jsonb NOT NULL CHECK (jsonb_typeof(tools) = 'array'),
  reported_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION forget_server_tools() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM server_tools WHERE server_name = OLD.name;
  RETURN NULL;
END
$$;
CREATE TRIGGER servers_forget_tools AFTER DELETE ON servers
  FOR EACH ROW EXECUTE FUNCTION forget_server_tools();
