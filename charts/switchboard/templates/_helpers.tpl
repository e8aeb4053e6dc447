{{/*
Helpers shared by the umbrella chart and its service subcharts. Named templates are global
across a chart and its subcharts, so each subchart renders its objects through these with its
own context.
*/}}

{{/* Fixed service ports (DESIGN.md, Ports). */}}
{{- define "sb.port" -}}
{{- $ports := dict "edge" 12008 "router" 7101 "runner" 7102 "registry" 7103 "auth" 7104 -}}
{{- get $ports . -}}
{{- end -}}

{{/* A gRPC service's metrics port (its `metrics_listen`): its port + 1000. */}}
{{- define "sb.metricsPort" -}}
{{- add (include "sb.port" . | int) 1000 -}}
{{- end -}}

{{/* The call path's wire port (`wire_listen`) of router and runner: their port + 2000. */}}
{{- define "sb.wirePort" -}}
{{- add (include "sb.port" . | int) 2000 -}}
{{- end -}}

{{/* Whether a component serves the call path over wire connections too. */}}
{{- define "sb.hasWire" -}}
{{- if or (eq . "router") (eq . "runner") }}true{{ end -}}
{{- end -}}

{{/* "<release>-<component>", the name of a component's objects and its in-cluster Service. */}}
{{- define "sb.name" -}}
{{- $root := index . 0 -}}
{{- printf "%s-%s" $root.Release.Name (index . 1) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* host:port of a gRPC service inside the cluster. */}}
{{- define "sb.addr" -}}
{{- $root := index . 0 -}}
{{- $svc := index . 1 -}}
{{- printf "%s:%s" (include "sb.name" (list $root $svc)) (include "sb.port" $svc) -}}
{{- end -}}

{{- define "sb.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: switchboard
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "sb.labels" -}}
{{- $root := index . 0 -}}
{{ include "sb.selectorLabels" . }}
app.kubernetes.io/part-of: switchboard
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 }}
{{- end -}}

{{/* Image reference: global registry + the component's repository + tag (global, own, appVersion). */}}
{{- define "sb.image" -}}
{{- $root := . -}}
{{- $g := $root.Values.global.image | default dict -}}
{{- $img := $root.Values.image | default dict -}}
{{- $tag := $img.tag | default $g.tag | default $root.Chart.AppVersion -}}
{{- $repo := $img.repository -}}
{{- if $g.registry }}{{ $repo = printf "%s/%s" $g.registry $repo }}{{ end -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $repo $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo $tag -}}
{{- end -}}
{{- end -}}

{{- define "sb.pullPolicy" -}}
{{- $g := .Values.global.image | default dict -}}
{{- (.Values.image | default dict).pullPolicy | default $g.pullPolicy | default "IfNotPresent" -}}
{{- end -}}

{{/* Restricted pod security context (Pod Security Standards "restricted"), overridable. */}}
{{- define "sb.podSecurityContext" -}}
{{- $base := dict "runAsNonRoot" true "runAsUser" 10001 "runAsGroup" 10001 "fsGroup" 10001 "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $base (deepCopy (.Values.global.podSecurityContext | default dict)) (deepCopy (.Values.podSecurityContext | default dict))) -}}
{{- end -}}

{{- define "sb.containerSecurityContext" -}}
{{- $base := dict "allowPrivilegeEscalation" false "readOnlyRootFilesystem" true "runAsNonRoot" true "runAsUser" 10001 "capabilities" (dict "drop" (list "ALL")) "seccompProfile" (dict "type" "RuntimeDefault") -}}
{{- toYaml (mergeOverwrite $base (deepCopy (.Values.global.securityContext | default dict)) (deepCopy (.Values.securityContext | default dict))) -}}
{{- end -}}

{{/* Where a service finds the Postgres / Redis URL: {name, key} of a Secret. */}}
{{- define "sb.postgresSecretRef" -}}
{{- $p := .Values.global.postgres | default dict -}}
{{- if $p.existingSecret -}}
name: {{ $p.existingSecret }}
key: {{ $p.existingSecretKey | default "postgres-url" }}
{{- else -}}
name: {{ include "sb.name" (list . "backends") }}
key: postgres-url
{{- end -}}
{{- end -}}

{{/* The admin APIs' token (templates/secrets.yaml). */}}
{{- define "sb.adminSecretRef" -}}
name: {{ include "sb.name" (list . "admin") }}
key: token
{{- end -}}

{{/* The registry's internal calls' token, which every service has (templates/secrets.yaml). */}}
{{- define "sb.serviceSecretRef" -}}
name: {{ include "sb.name" (list . "service") }}
key: token
{{- end -}}

{{/*
A generated secret kept across upgrades: the `key` of Secret <release>-<name> as installed, else
`length` random letters and digits (helm template, a first install). Call with
(list . name key length).
*/}}
{{- define "sb.keptSecretValue" -}}
{{- $ctx := index . 0 -}}
{{- $key := index . 2 -}}
{{- $old := lookup "v1" "Secret" $ctx.Release.Namespace (include "sb.name" (list $ctx (index . 1))) -}}
{{- if and $old $old.data (index $old.data $key) -}}
{{- index $old.data $key | b64dec -}}
{{- else -}}
{{- randAlphaNum (index . 3) -}}
{{- end -}}
{{- end -}}

{{/* Secret <release>-<name> holding `value` under `key`. Call with (list . name key value). */}}
{{- define "sb.oneKeySecret" -}}
{{- $ctx := index . 0 -}}
{{- $name := index . 1 -}}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "sb.name" (list $ctx $name) }}
  labels:
    {{- include "sb.labels" (list $ctx $name) | nindent 4 }}
type: Opaque
stringData:
  {{ index . 2 }}: {{ index . 3 | quote }}
{{- end -}}

{{- define "sb.redisSecretRef" -}}
{{- $r := .Values.global.redis | default dict -}}
{{- if $r.existingSecret -}}
name: {{ $r.existingSecret }}
key: {{ $r.existingSecretKey | default "redis-url" }}
{{- else -}}
name: {{ include "sb.name" (list . "backends") }}
key: redis-url
{{- end -}}
{{- end -}}

{{/*
The environment ConfigMap of a service: SWITCHBOARD_<SVC>_<FIELD> for the in-cluster wiring,
then the service's `config:` values, which win. Call with (dict "ctx" . "wiring" dict).
*/}}
{{- define "sb.envConfigMap" -}}
{{- $ctx := .ctx -}}
{{- $svc := $ctx.Chart.Name -}}
{{- $cfg := mergeOverwrite (deepCopy .wiring) (deepCopy ($ctx.Values.config | default dict)) -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "sb.name" (list $ctx $svc) }}-env
  labels:
    {{- include "sb.labels" (list $ctx $svc) | nindent 4 }}
data:
  {{- range $k, $v := $cfg }}
  {{- $val := $v }}
  {{- if kindIs "slice" $v }}{{ $val = join "," $v }}{{ end }}
  {{ printf "SWITCHBOARD_%s_%s" (upper $svc) (upper $k) }}: {{ $val | toString | quote }}
  {{- end }}
{{- end -}}

{{/*
A service's Deployment. Call with (dict "ctx" . "probe" "grpc"|"http" "env" list
"volumes" list "volumeMounts" list "affinity" dict).
*/}}
{{- define "sb.deployment" -}}
{{- $ctx := .ctx -}}
{{- $svc := $ctx.Chart.Name -}}
{{- $v := $ctx.Values -}}
{{- $port := int (include "sb.port" $svc) -}}
{{- $kind := .kind | default "Deployment" -}}
apiVersion: apps/v1
kind: {{ $kind }}
metadata:
  name: {{ include "sb.name" (list $ctx $svc) }}
  labels:
    {{- include "sb.labels" (list $ctx $svc) | nindent 4 }}
spec:
  {{- if hasKey . "replicas" }}
  replicas: {{ .replicas }}
  {{- else if not (and (hasKey $v "autoscaling") $v.autoscaling.enabled) }}
  replicas: {{ $v.replicaCount }}
  {{- end }}
  revisionHistoryLimit: 5
  selector:
    matchLabels:
      {{- include "sb.selectorLabels" (list $ctx $svc) | nindent 6 }}
  {{- if eq $kind "StatefulSet" }}
  {{/* Stable pod names, so that every edge lists the same routers (see sb.routerAddresses). */}}
  serviceName: {{ include "sb.name" (list $ctx $svc) }}-headless
  podManagementPolicy: Parallel
  {{- with $v.updateStrategy }}
  updateStrategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- else }}
  {{- with $v.strategy }}
  strategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "sb.labels" (list $ctx $svc) | nindent 8 }}
        {{- with $v.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      annotations:
        checksum/config: {{ include "sb.envConfigMapFor" $ctx | sha256sum }}
        checksum/global: {{ toJson $v.global | sha256sum }}
        {{- with $v.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
    spec:
      serviceAccountName: {{ include "sb.serviceAccountName" $ctx }}
      automountServiceAccountToken: false
      {{- with ($v.imagePullSecrets | default $v.global.imagePullSecrets) }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "sb.podSecurityContext" $ctx | nindent 8 }}
      terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds | default 30 }}
      {{- with $v.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      containers:
        - name: {{ $svc }}
          image: {{ include "sb.image" $ctx | quote }}
          imagePullPolicy: {{ include "sb.pullPolicy" $ctx }}
          ports:
            - name: {{ ternary "http" "grpc" (eq .probe "http") }}
              containerPort: {{ $port }}
              protocol: TCP
            {{- if ne .probe "http" }}
            - name: metrics
              containerPort: {{ include "sb.metricsPort" $svc }}
              protocol: TCP
            {{- end }}
            {{- if include "sb.hasWire" $svc }}
            - name: wire
              containerPort: {{ include "sb.wirePort" $svc }}
              protocol: TCP
            {{- end }}
          envFrom:
            - configMapRef:
                name: {{ include "sb.name" (list $ctx $svc) }}-env
            {{- with $v.extraEnvFrom }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          env:
            {{- /* The registry takes it (hashed at start-up); the others send it on its calls. */}}
            - name: {{ printf "SWITCHBOARD_%s_SERVICE_TOKEN" (upper $svc) }}
              valueFrom:
                secretKeyRef:
                  {{- include "sb.serviceSecretRef" $ctx | nindent 18 }}
            {{- with .env }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
            {{- with $v.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          {{- if eq .probe "http" }}
          startupProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            httpGet: {path: /healthz, port: http}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            httpGet: {path: /readyz, port: http}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          {{- else }}
          startupProbe:
            grpc: {port: {{ $port }}}
            periodSeconds: 2
            failureThreshold: 60
          livenessProbe:
            grpc: {port: {{ $port }}}
            periodSeconds: 10
            timeoutSeconds: 3
            failureThreshold: 3
          readinessProbe:
            grpc: {port: {{ $port }}}
            periodSeconds: 5
            timeoutSeconds: 3
            failureThreshold: 2
          {{- end }}
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- include "sb.containerSecurityContext" $ctx | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
            {{- with .volumeMounts }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir:
            sizeLimit: {{ $v.tmpSizeLimit | default "256Mi" }}
        {{- with .volumes }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- with $v.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with (.affinity | default $v.affinity) }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with $v.topologySpreadConstraints }}
      topologySpreadConstraints:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end -}}

{{/* Each subchart defines "<svc>.envConfigMap"; this dispatches to it (used for checksums). */}}
{{- define "sb.envConfigMapFor" -}}
{{- include (printf "%s.envConfigMap" .Chart.Name) . -}}
{{- end -}}

{{- define "sb.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- .Values.serviceAccount.name | default (include "sb.name" (list . .Chart.Name)) -}}
{{- else -}}
{{- .Values.serviceAccount.name | default "default" -}}
{{- end -}}
{{- end -}}

{{- define "sb.serviceAccount" -}}
{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "sb.serviceAccountName" . }}
  labels:
    {{- include "sb.labels" (list . .Chart.Name) | nindent 4 }}
  {{- with .Values.serviceAccount.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
{{- end -}}

{{/*
The router replicas' addresses, comma-separated, for the edge: the router runs as a StatefulSet
behind a headless Service, so pod i is <name>-i.<name>-headless. Every edge replica sends a
session's messages to the same router (rendezvous hashing over this list), which keeps what it
knows of the session; a router that cannot be reached hands its sessions to the next.
*/}}
{{- define "sb.routerAddresses" -}}
{{- include "sb.routerAddressesOn" (list . (include "sb.port" "router")) -}}
{{- end -}}

{{/* The same on the routers' wire port, for the edge's router_wire_address. */}}
{{- define "sb.routerWireAddresses" -}}
{{- include "sb.routerAddressesOn" (list . (include "sb.wirePort" "router")) -}}
{{- end -}}

{{- define "sb.routerAddressesOn" -}}
{{- $root := index . 0 -}}
{{- $port := index . 1 -}}
{{- $name := include "sb.name" (list $root "router") -}}
{{- $out := list -}}
{{- range $i := until (int ($root.Values.global.routerReplicas | default 2)) -}}
{{- $out = append $out (printf "%s-%d.%s-headless:%s" $name $i $name $port) -}}
{{- end -}}
{{- join "," $out -}}
{{- end -}}

{{/* Headless Service of a StatefulSet component: a DNS name per pod. */}}
{{- define "sb.headlessService" -}}
{{- $svc := .Chart.Name -}}
{{- $port := int (include "sb.port" $svc) -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "sb.name" (list . $svc) }}-headless
  labels:
    {{- include "sb.labels" (list . $svc) | nindent 4 }}
spec:
  clusterIP: None
  selector:
    {{- include "sb.selectorLabels" (list . $svc) | nindent 4 }}
  ports:
    - name: grpc
      port: {{ $port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    {{- if include "sb.hasWire" $svc }}
    - name: wire
      port: {{ include "sb.wirePort" $svc }}
      targetPort: wire
      protocol: TCP
    {{- end }}
{{- end -}}

{{/* ClusterIP Service of a component: its main port, plus metrics for gRPC services. */}}
{{- define "sb.service" -}}
{{- $svc := .Chart.Name -}}
{{- $port := int (include "sb.port" $svc) -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ include "sb.name" (list . $svc) }}
  labels:
    {{- include "sb.labels" (list . $svc) | nindent 4 }}
  {{- with .Values.service.annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  type: {{ .Values.service.type | default "ClusterIP" }}
  selector:
    {{- include "sb.selectorLabels" (list . $svc) | nindent 4 }}
  ports:
    {{- if eq $svc "edge" }}
    - name: http
      port: {{ .Values.service.port | default $port }}
      targetPort: http
      protocol: TCP
      appProtocol: http
    {{- else }}
    - name: grpc
      port: {{ $port }}
      targetPort: grpc
      protocol: TCP
      appProtocol: grpc
    - name: metrics
      port: {{ include "sb.metricsPort" $svc }}
      targetPort: metrics
      protocol: TCP
    {{- if include "sb.hasWire" $svc }}
    - name: wire
      port: {{ include "sb.wirePort" $svc }}
      targetPort: wire
      protocol: TCP
    {{- end }}
    {{- end }}
{{- end -}}

{{/*
Ingress-only NetworkPolicy: the component's port is open to the listed callers (components of
this release) plus `networkPolicy.extraFrom`; the metrics port to `networkPolicy.metricsFrom`.
Call with (dict "ctx" . "callers" (list "edge" ...) "anyone" bool).
*/}}
{{- define "sb.networkPolicy" -}}
{{- $ctx := .ctx -}}
{{- $svc := $ctx.Chart.Name -}}
{{- $np := $ctx.Values.networkPolicy | default dict -}}
{{- $gnp := $ctx.Values.global.networkPolicy | default dict -}}
{{- if and $np.enabled (ne (toString $gnp.enabled) "false") }}
{{- $port := int (include "sb.port" $svc) }}
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ include "sb.name" (list $ctx $svc) }}
  labels:
    {{- include "sb.labels" (list $ctx $svc) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "sb.selectorLabels" (list $ctx $svc) | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - ports:
        - port: {{ $port }}
          protocol: TCP
        {{- if include "sb.hasWire" $svc }}
        - port: {{ include "sb.wirePort" $svc | int }}
          protocol: TCP
        {{- end }}
      {{- if not .anyone }}
      from:
        {{- range .callers }}
        - podSelector:
            matchLabels:
              {{- include "sb.selectorLabels" (list $ctx .) | nindent 14 }}
        {{- end }}
        {{- with $np.extraFrom }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
    {{- if $np.metricsFrom }}
    - ports:
        - port: {{ ternary $port (include "sb.metricsPort" $svc | int) (eq $svc "edge") }}
          protocol: TCP
      from:
        {{- toYaml $np.metricsFrom | nindent 8 }}
    {{- end }}
{{- end }}
{{- end -}}

{{/* Prometheus Operator ServiceMonitor, when serviceMonitor.enabled. */}}
{{- define "sb.serviceMonitor" -}}
{{- $svc := .Chart.Name -}}
{{- $sm := .Values.serviceMonitor | default dict -}}
{{- if $sm.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "sb.name" (list . $svc) }}
  labels:
    {{- include "sb.labels" (list . $svc) | nindent 4 }}
    {{- with $sm.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "sb.selectorLabels" (list . $svc) | nindent 6 }}
  endpoints:
    - port: {{ ternary "http" "metrics" (eq $svc "edge") }}
      path: /metrics
      interval: {{ $sm.interval | default "30s" }}
      scrapeTimeout: {{ $sm.scrapeTimeout | default "10s" }}
{{- end }}
{{- end -}}
