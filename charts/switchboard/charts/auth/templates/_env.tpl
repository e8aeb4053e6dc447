{{- define "auth.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "auth")) "metrics_listen" (printf "0.0.0.0:%s" (include "sb.metricsPort" "auth")) "registry_address" (include "sb.addr" (list . "registry")) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
