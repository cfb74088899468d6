{{/*
Names and labels.
*/}}
{{- define "mandant.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "mandant.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "mandant.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mandant.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
The API pods. The migration Job's pods carry component "migrate" instead,
so the Service never sends traffic to them.
*/}}
{{- define "mandant.apiSelectorLabels" -}}
{{ include "mandant.selectorLabels" . }}
app.kubernetes.io/component: api
{{- end -}}

{{- define "mandant.labels" -}}
{{ include "mandant.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "mandant.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
mandantd.yaml (docs/operations.md). Secrets are not in it: the database
password comes from MANDANT_DB_PASSWORD, the TLS key from a mounted Secret.
*/}}
{{- define "mandant.config" -}}
# mandantd configuration, rendered by the mandant Helm chart.
listen: {{ printf "0.0.0.0:%d" (int .Values.ports.grpc) | quote }}
metrics_listen: {{ printf "0.0.0.0:%d" (int .Values.ports.metrics) | quote }}
tls:
{{- if .Values.tls.secretName }}
  cert_file: /etc/mandant/tls/tls.crt
  key_file: /etc/mandant/tls/tls.key
{{- else }}
  server_names:
    - {{ include "mandant.fullname" . }}
    - {{ printf "%s.%s" (include "mandant.fullname" .) .Release.Namespace }}
    - {{ printf "%s.%s.svc" (include "mandant.fullname" .) .Release.Namespace }}
    - {{ printf "%s.%s.svc.cluster.local" (include "mandant.fullname" .) .Release.Namespace }}
    {{- range .Values.tls.extraServerNames }}
    - {{ . | quote }}
    {{- end }}
{{- end }}
database:
  conninfo: {{ required "database.conninfo is required: a libpq connection string without the password" .Values.database.conninfo | quote }}
  pool_size: {{ int .Values.database.poolSize }}
network:
  vni_pool: {first: {{ int .Values.network.vniPool.first }}, last: {{ int .Values.network.vniPool.last }}}
  {{- with .Values.network.vlanPool }}
  vlan_pool: {first: {{ int .first }}, last: {{ int .last }}}
  {{- end }}
  node_supernet: {{ .Values.network.nodeSupernet | quote }}
  storage_supernet: {{ .Values.network.storageSupernet | quote }}
  default_prefix_length: {{ int .Values.network.defaultPrefixLength }}
log:
  level: {{ .Values.log.level | quote }}
  format: {{ .Values.log.format | quote }}
pki:
  dns_base_domain: {{ .Values.pki.dnsBaseDomain | quote }}
  spiffe_base_domain: {{ .Values.pki.spiffeBaseDomain | quote }}
  trust_domain: {{ .Values.pki.trustDomain | quote }}
  {{- with .Values.pki.crlBaseUrl }}
  crl_base_url: {{ . | quote }}
  {{- end }}
shutdown_grace_seconds: {{ int .Values.shutdownGraceSeconds }}
{{- end -}}

{{/*
Environment shared by the server and the migration Job.
*/}}
{{- define "mandant.env" -}}
- name: MANDANT_KEK
  valueFrom:
    secretKeyRef:
      name: {{ required "pki.kekSecret.name is required: an existing Secret with the key-encryption key" .Values.pki.kekSecret.name }}
      key: {{ .Values.pki.kekSecret.key }}
{{- if .Values.pki.previousKekSecret.name }}
- name: MANDANT_PREVIOUS_KEK
  valueFrom:
    secretKeyRef:
      name: {{ .Values.pki.previousKekSecret.name }}
      key: {{ .Values.pki.previousKekSecret.key }}
{{- end }}
{{- if .Values.database.passwordSecret.name }}
- name: MANDANT_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.database.passwordSecret.name }}
      key: {{ .Values.database.passwordSecret.key }}
{{- end }}
{{- end -}}

{{/*
Volumes shared by the server and the migration Job: the database CA.
*/}}
{{- define "mandant.databaseCaVolume" -}}
{{- if .Values.database.caSecret.name -}}
- name: database-ca
  secret:
    secretName: {{ .Values.database.caSecret.name }}
    items:
      - key: {{ .Values.database.caSecret.key }}
        path: ca.crt
{{- end }}
{{- end -}}

{{- define "mandant.databaseCaVolumeMount" -}}
{{- if .Values.database.caSecret.name -}}
- name: database-ca
  mountPath: /etc/mandant/database
  readOnly: true
{{- end }}
{{- end -}}
