#!/bin/sh
# A STDIO MCP server for tests that cannot start: it complains and exits before initialize.
echo "missing configuration, giving up" >&2
exit 1
