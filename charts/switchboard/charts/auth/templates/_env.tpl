{{- define "auth.envConfigMap" -}}
{{- $w := dict "listen" (printf "0.0.0.0:%s" (include "sb.port" "auth")) "metrics_listen" (printf "0.0.0.0:%d" (add (include "sb.port" "auth" | int) 1000)) "registry_address" (include "sb.addr" (list . "registry")) -}}
{{- include "sb.envConfigMap" (dict "ctx" . "wiring" $w) -}}
{{- end -}}
