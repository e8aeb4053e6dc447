#!/bin/sh
# A STDIO MCP server for tests that hangs: it answers initialize, writes every line it reads to
# stderr (so a test can see what reached it, cancellations included) and never answers anything
# else.
while IFS= read -r line; do
  printf 'got %s\n' "$line" >&2
  case "$line" in
    *'"method":"initialize"'*)
      id=${line#*\"id\":}; id=${id%%,*}
      printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"hang"}}}\n' "$id" ;;
  esac
done
