{{/*
A single-replica StatefulSet + headless-free ClusterIP Service + NetworkPolicy for a bundled
backing store. Call with (dict "ctx" . "name" "postgres"|"redis" "values" dict "port" int
"callers" list "env" list "args" list "dataPath" string "runPaths" list "probe" dict).
*/}}
{{- define "switchboard.backing" -}}
{{- $ctx := .ctx -}}
{{- $name := include "sb.name" (list $ctx .name) -}}
{{- $v := .values -}}
{{- $probe := .probe -}}
apiVersion: v1
kind: Service
metadata:
  name: {{ $name }}
  labels:
    {{- include "sb.labels" (list $ctx .name) | nindent 4 }}
spec:
  type: ClusterIP
  selector:
    {{- include "sb.selectorLabels" (list $ctx .name) | nindent 4 }}
  ports:
    - name: {{ .name }}
      port: {{ .port }}
      targetPort: {{ .name }}
      protocol: TCP
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ $name }}
  labels:
    {{- include "sb.labels" (list $ctx .name) | nindent 4 }}
spec:
  serviceName: {{ $name }}
  replicas: 1
  selector:
    matchLabels:
      {{- include "sb.selectorLabels" (list $ctx .name) | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "sb.labels" (list $ctx .name) | nindent 8 }}
      {{- with .checksum }}
      annotations:
        checksum/secret: {{ . }}
      {{- end }}
    spec:
      automountServiceAccountToken: false
      {{- with $ctx.Values.global.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- include "sb.podSecurityContext" (dict "Values" (dict "global" $ctx.Values.global "podSecurityContext" $v.podSecurityContext)) | nindent 8 }}
      containers:
        - name: {{ .name }}
          image: {{ $v.image | quote }}
          imagePullPolicy: {{ $ctx.Values.global.image.pullPolicy | default "IfNotPresent" }}
          {{- with .args }}
          args:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          ports:
            - name: {{ .name }}
              containerPort: {{ .port }}
              protocol: TCP
          {{- with .env }}
          env:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          readinessProbe:
            {{- toYaml $probe | nindent 12 }}
            periodSeconds: 5
            timeoutSeconds: 3
          livenessProbe:
            {{- toYaml $probe | nindent 12 }}
            initialDelaySeconds: 30
            periodSeconds: 15
            timeoutSeconds: 5
          {{- with $v.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          securityContext:
            {{- include "sb.containerSecurityContext" (dict "Values" (dict "global" $ctx.Values.global "securityContext" $v.securityContext)) | nindent 12 }}
          volumeMounts:
            - name: data
              mountPath: {{ .dataPath }}
            - name: tmp
              mountPath: /tmp
            {{- range $i, $p := .runPaths }}
            - name: run{{ $i }}
              mountPath: {{ $p }}
            {{- end }}
      volumes:
        - name: tmp
          emptyDir: {}
        {{- range $i, $p := .runPaths }}
        - name: run{{ $i }}
          emptyDir: {}
        {{- end }}
        {{- if not $v.persistence.enabled }}
        - name: data
          emptyDir: {}
        {{- end }}
  {{- if $v.persistence.enabled }}
  volumeClaimTemplates:
    - metadata:
        name: data
        labels:
          {{- include "sb.selectorLabels" (list $ctx .name) | nindent 10 }}
      spec:
        accessModes: [ReadWriteOnce]
        {{- with $v.persistence.storageClassName }}
        storageClassName: {{ . | quote }}
        {{- end }}
        resources:
          requests:
            storage: {{ $v.persistence.size }}
  {{- end }}
{{- if ne (toString $ctx.Values.global.networkPolicy.enabled) "false" }}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {{ $name }}
  labels:
    {{- include "sb.labels" (list $ctx .name) | nindent 4 }}
spec:
  podSelector:
    matchLabels:
      {{- include "sb.selectorLabels" (list $ctx .name) | nindent 6 }}
  policyTypes: [Ingress]
  ingress:
    - ports:
        - port: {{ .port }}
          protocol: TCP
      from:
        {{- range .callers }}
        - podSelector:
            matchLabels:
              {{- include "sb.selectorLabels" (list $ctx .) | nindent 14 }}
        {{- end }}
{{- end }}
{{- end -}}
