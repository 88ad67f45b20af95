{{/*
Helpers. Rendered by helm and by tools/chart-render (text/template + sprig): no lookup, tpl or
subcharts here.
*/}}

{{/* Chart name, overridable, DNS-label length. */}}
{{- define "sippbx-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: RELEASE-NAME, or RELEASE when it already contains the name. */}}
{{- define "sippbx-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* name-version for the helm.sh/chart label. */}}
{{- define "sippbx-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every object. */}}
{{- define "sippbx-operator.labels" -}}
helm.sh/chart: {{ include "sippbx-operator.chart" . }}
{{ include "sippbx-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: sippbx
{{- end }}

{{/* Labels that select the operator pods (immutable in the Deployment selector). */}}
{{- define "sippbx-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sippbx-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end }}

{{/* The operator's ServiceAccount name. */}}
{{- define "sippbx-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "sippbx-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The operator image reference. */}}
{{- define "sippbx-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag | toString) }}
{{- end }}
{{- end }}

{{/* The default pbx image reference. */}}
{{- define "sippbx-operator.pbxImage" -}}
{{- printf "%s:%s" .Values.pbxImage.repository (default .Chart.AppVersion .Values.pbxImage.tag | toString) }}
{{- end }}

{{/* "true" when the cluster serves the Prometheus operator's API (empty otherwise). */}}
{{- define "sippbx-operator.monitoringApi" -}}
{{- if .Capabilities.APIVersions.Has "monitoring.coreos.com/v1" }}true{{ end }}
{{- end }}

{{/*
RBAC rules for what the operator manages in the namespaces it watches (least privilege: only the
verbs the reconciler uses).
*/}}
{{- define "sippbx-operator.managedRules" -}}
- apiGroups: [sippbx.dev]
  resources: [sippbxes]
  verbs: [get, list, watch, update, patch]
- apiGroups: [sippbx.dev]
  resources: [sippbxes/status]
  verbs: [get, update, patch]
- apiGroups: [sippbx.dev]
  resources: [sippbxes/scale]
  verbs: [get, update, patch]
- apiGroups: [sippbx.dev]
  resources: [sippbxes/finalizers]
  verbs: [update]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, update, patch, delete]
{{- if .Values.managedRedis.enabled }}
- apiGroups: [apps]
  resources: [deployments]
  verbs: [get, list, watch, create, update, patch, delete]
{{- end }}
- apiGroups: ['']
  resources: [services, configmaps, secrets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: [policy]
  resources: [poddisruptionbudgets]
  verbs: [get, list, watch, create, update, patch, delete]
- apiGroups: ['']
  resources: [pods]
  verbs: [get, list, watch, delete]
- apiGroups: ['', events.k8s.io]
  resources: [events]
  verbs: [create, patch]
{{- if .Values.monitoring.manageMonitors }}
- apiGroups: [monitoring.coreos.com]
  resources: [servicemonitors, podmonitors]
  verbs: [get, list, watch, create, update, patch, delete]
{{- end }}
{{- end }}
