{{- define "runner.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "runner")) "metrics_listen" (printf "0.0.0.0:%s" (include "sb.metricsPort" "runner")) "registry_address" (include "sb.addr" (list . "registry")) "wire_listen" (printf "0.0.0.0:%s" (include "sb.wirePort" "runner")) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
