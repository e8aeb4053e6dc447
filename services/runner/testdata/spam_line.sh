#!/bin/sh
# A STDIO MCP server for tests that spams: before each answer it prints one 10 MiB line.
while IFS= read -r line; do
  case "$line" in
    *'"id":'*)
      id=${line#*\"id\":}; id=${id%%,*}
      head -c 10485760 /dev/zero | tr '\0' x; printf '\n'
      case "$line" in
        *'"method":"initialize"'*)
          printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"spam"}}}\n' "$id" ;;
        *) printf '{"jsonrpc":"2.0","id":%s,"result":{"ok":true}}\n' "$id" ;;
      esac ;;
  esac
done
