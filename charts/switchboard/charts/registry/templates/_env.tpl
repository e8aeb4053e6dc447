{{- define "registry.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "registry")) "metrics_listen" (printf "0.0.0.0:%s" (include "sb.metricsPort" "registry")) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
