{{- define "router.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "router")) "metrics_listen" (printf "0.0.0.0:%d" (add (include "sb.port" "router" | int) 1000)) "registry_address" (include "sb.addr" (list . "registry")) "runner_address" (include "sb.addr" (list . "runner")) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
