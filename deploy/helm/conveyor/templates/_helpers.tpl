{{/* The release's base name: "conveyor" for a release called conveyor. */}}
{{- define "conveyor.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "serve"). */}}
{{- define "conveyor.selectorLabels" -}}
app.kubernetes.io/name: {{ .ctx.Chart.Name }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* All labels of one component's objects. */}}
{{- define "conveyor.labels" -}}
{{ include "conveyor.selectorLabels" . }}
app.kubernetes.io/part-of: conveyor
app.kubernetes.io/version: {{ .ctx.Values.image.tag | default .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "conveyor.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "conveyor.publicURL" -}}
{{- .Values.config.CONVEYOR_PUBLIC_URL | default (printf "https://%s" .Values.ingress.host) -}}
{{- end -}}

{{/* The configuration serve, worker and the migration see (name: value). */}}
{{- define "conveyor.config" -}}
{{- $managed := dict
  "CONVEYOR_HTTP_ADDR" (printf ":%d" (int .Values.serve.port))
  "CONVEYOR_INTERNAL_ADDR" (printf "0.0.0.0:%d" (int .Values.serve.internalPort))
  "CONVEYOR_WORKER_ADDR" (printf ":%d" (int .Values.worker.port))
  "CONVEYOR_SHUTDOWN_TIMEOUT" (printf "%ds" (int .Values.shutdownTimeoutSeconds))
  "CONVEYOR_RUN_DIR" "/tmp/conveyor"
  "CONVEYOR_DEV" "false"
  "CONVEYOR_PUBLIC_URL" (include "conveyor.publicURL" .) -}}
{{- $cfg := merge $managed .Values.config -}}
{{- range $k := keys $cfg | sortAlpha }}
{{ $k }}: {{ get $cfg $k | toString | quote }}
{{- end }}
{{- end -}}

{{/* An env entry from the existing Secret: (dict "ctx" $ "name" "CONVEYOR_X" "key" "k" "optional" true). */}}
{{- define "conveyor.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ .ctx.Values.secrets.existingSecret }}
      key: {{ .key }}
      {{- if .optional }}
      optional: true
      {{- end }}
{{- end -}}

{{/* Env shared by serve and worker: credentials other than the database, proxy. */}}
{{- define "conveyor.commonEnv" -}}
{{- $k := .Values.secrets.keys -}}
{{ include "conveyor.secretEnv" (dict "ctx" . "name" "CONVEYOR_REDIS_PASSWORD" "key" $k.redisPassword "optional" true) }}
{{ include "conveyor.secretEnv" (dict "ctx" . "name" "CONVEYOR_S3_ACCESS_KEY_ID" "key" $k.s3AccessKeyID "optional" true) }}
{{ include "conveyor.secretEnv" (dict "ctx" . "name" "CONVEYOR_S3_SECRET_ACCESS_KEY" "key" $k.s3SecretAccessKey "optional" true) }}
{{ include "conveyor.secretEnv" (dict "ctx" . "name" "CONVEYOR_SMTP_PASSWORD" "key" $k.smtpPassword "optional" true) }}
{{- with .Values.egressProxy.url }}
- {name: HTTPS_PROXY, value: {{ . | quote }}}
- {name: HTTP_PROXY, value: {{ . | quote }}}
- {name: NO_PROXY, value: {{ $.Values.egressProxy.noProxy | quote }}}
{{- end }}
{{- end -}}

{{- define "conveyor.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
capabilities:
  drop: ["ALL"]
{{- end -}}

{{/* topologySpreadConstraints of one component. */}}
{{- define "conveyor.topologySpread" -}}
{{- if .ctx.Values.topologySpread.enabled }}
topologySpreadConstraints:
{{- range .ctx.Values.topologySpread.topologyKeys }}
  - maxSkew: 1
    topologyKey: {{ . }}
    whenUnsatisfiable: {{ $.ctx.Values.topologySpread.whenUnsatisfiable }}
    labelSelector:
      matchLabels:
        {{- include "conveyor.selectorLabels" $ | nindent 8 }}
{{- end }}
{{- end }}
{{- end -}}

{{/* One egress rule from a {to, ports} value; nothing when `to` is empty. */}}
{{- define "conveyor.egressRule" -}}
{{- if .to -}}
- to: {{- toYaml .to | nindent 4 }}
  ports: {{- toYaml .ports | nindent 4 }}
{{- end -}}
{{- end -}}

{{/* Egress to a component's database pool: the chart's PgBouncer or the managed pooler. */}}
{{- define "conveyor.poolerRule" -}}
{{- if .ctx.Values.pgbouncer.enabled -}}
- to:
    - podSelector:
        matchLabels:
          {{- include "conveyor.selectorLabels" (dict "ctx" .ctx "component" (printf "pgbouncer-%s" .pool)) | nindent 10 }}
  ports: [{port: {{ .ctx.Values.pgbouncer.port }}, protocol: TCP}]
{{- else -}}
{{- include "conveyor.egressRule" .ctx.Values.networkPolicy.egress.pooler -}}
{{- end -}}
{{- end -}}

{{/* KEDA's formula: the sum of the redis triggers, pending_QUEUE + active_QUEUE + ... */}}
{{- define "conveyor.kedaFormula" -}}
{{- $terms := list -}}
{{- range $q := .Values.worker.autoscaling.keda.queues -}}
{{- range $state := list "pending" "active" -}}
{{- $terms = append $terms (printf "%s_%s" $state $q | replace "-" "_") -}}
{{- end -}}
{{- end -}}
{{- join " + " $terms -}}
{{- end -}}
