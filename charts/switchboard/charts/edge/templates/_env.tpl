{{- define "edge.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "edge")) "registry_address" (include "sb.addr" (list . "registry")) "router_address" (include "sb.routerAddresses" .) "auth_address" (include "sb.addr" (list . "auth")) "router_wire_address" (include "sb.routerWireAddresses" .) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
