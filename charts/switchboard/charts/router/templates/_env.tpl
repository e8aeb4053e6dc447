{{- define "router.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "router")) "metrics_listen" (printf "0.0.0.0:%s" (include "sb.metricsPort" "router")) "registry_address" (include "sb.addr" (list . "registry")) "runner_address" (include "sb.addr" (list . "runner")) "wire_listen" (printf "0.0.0.0:%s" (include "sb.wirePort" "router")) "runner_wire_address" (printf "%s:%s" (include "sb.name" (list . "runner")) (include "sb.wirePort" "runner")) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
