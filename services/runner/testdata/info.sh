#!/bin/sh
# A STDIO MCP server for tests that describes itself: every request other than initialize is
# answered with its pid, working directory and open-files limit.
while IFS= read -r line; do
  case "$line" in
    *'"id":'*)
      id=${line#*\"id\":}; id=${id%%,*}
      case "$line" in
        *'"method":"initialize"'*)
          printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"info"}}}\n' "$id" ;;
        *) printf '{"jsonrpc":"2.0","id":%s,"result":{"pid":%s,"cwd":"%s","nofile":"%s"}}\n' "$id" "$$" "$(pwd)" "$(ulimit -n)" ;;
      esac ;;
  esac
done
