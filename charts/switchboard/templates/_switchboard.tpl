{{/* Umbrella-only helpers. */}}

{{- define "switchboard.externalPostgres" -}}
{{- if or .Values.global.postgres.url .Values.global.postgres.existingSecret (.Values.env | default dict).DATABASE_URL }}true{{ end -}}
{{- end -}}

{{- define "switchboard.externalRedis" -}}
{{- if or .Values.global.redis.url .Values.global.redis.existingSecret }}true{{ end -}}
{{- end -}}

{{- define "switchboard.bundledPostgres" -}}
{{- if and .Values.postgres.enabled (not (include "switchboard.externalPostgres" .)) }}true{{ end -}}
{{- end -}}

{{- define "switchboard.bundledRedis" -}}
{{- if and .Values.redis.enabled (not (include "switchboard.externalRedis" .)) }}true{{ end -}}
{{- end -}}

{{/* Lower-case DNS-safe slug of an email address (Secret names). */}}
{{- define "switchboard.slug" -}}
{{- regexReplaceAll "[^a-z0-9-]+" (lower .) "-" | trimAll "-" | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{/* Users: provision.users followed by the top-level (MetaMCP style) users. */}}
{{- define "switchboard.users" -}}
{{- toJson (concat (.Values.provision.users | default list) (.Values.users | default list)) -}}
{{- end -}}

{{/* URL of a server this chart deploys (node/python/image entries). */}}
{{- define "switchboard.deployedServerURL" -}}
{{- $root := index . 0 -}}
{{- $s := index . 1 -}}
{{- printf "http://%s:%v%s" (include "sb.name" (list $root (printf "mcp-%s" (lower $s.name)))) ($s.port | default 3001) ($s.path | default (ternary "/sse" "/mcp" (eq $s.type "SSE"))) -}}
{{- end -}}

{{- define "switchboard.isDeployedServer" -}}
{{- if and (ne (.type | default "STDIO") "STDIO") (or .node .python .image) }}true{{ end -}}
{{- end -}}

{{/* The switchboard.yaml applied by the provisioning Job: only the keys sbctl understands. */}}
{{- define "switchboard.provisionDoc" -}}
{{- $root := . -}}
{{- $p := .Values.provision -}}
{{- $servers := list -}}
{{- range $p.servers -}}
{{- $s := pick . "name" "type" "description" "command" "args" "env" "url" "bearerToken" "headers" -}}
{{- if include "switchboard.isDeployedServer" . -}}
{{- $_ := set $s "url" (include "switchboard.deployedServerURL" (list $root .)) -}}
{{- end -}}
{{- $servers = append $servers $s -}}
{{- end -}}
{{- $namespaces := list -}}
{{- range $p.namespaces -}}
{{- $namespaces = append $namespaces (pick . "name" "description" "servers" "prefix") -}}
{{- end -}}
{{- $endpoints := list -}}
{{- range $p.endpoints -}}
{{- $endpoints = append $endpoints (pick . "name" "namespace" "description" "transport" "enableApiKeyAuth" "useQueryParamAuth" "enableOauth" "oauthIssuers" "oauthJwksUrl" "oauthRequiredScopes" "oauthAudience") -}}
{{- end -}}
{{- $users := list -}}
{{- range (include "switchboard.users" . | fromJsonArray) -}}
{{- $users = append $users (pick . "email" "name" "isAdmin") -}}
{{- end -}}
{{- $doc := dict "servers" $servers "namespaces" $namespaces "endpoints" $endpoints "users" $users "updateExisting" $p.updateExisting "prune" $p.prune -}}
{{- toYaml (dict "provision" $doc) -}}
{{- end -}}
