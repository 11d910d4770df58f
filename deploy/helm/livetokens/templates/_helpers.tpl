{{/* The chart's name, truncated to the 63 characters a label value allows. */}}
{{- define "livetokens.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The release's full name: <release>-livetokens, or the release name when it already says livetokens. */}}
{{- define "livetokens.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "livetokens.selectorLabels" -}}
app.kubernetes.io/name: {{ include "livetokens.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "livetokens.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "livetokens.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: token-minter
{{- end -}}

{{- define "livetokens.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "livetokens.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "livetokens.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Seconds the kubelet waits after SIGTERM: the drain delay, the grace period, the margin. */}}
{{- define "livetokens.terminationGracePeriodSeconds" -}}
{{- add .Values.drain.drainDelay .Values.drain.gracePeriod .Values.drain.shutdownMargin -}}
{{- end -}}

{{/* The name of the policy ConfigMap (rendered or existing). */}}
{{- define "livetokens.policyConfigMap" -}}
{{- default (printf "%s-policy" (include "livetokens.fullname" .)) .Values.policy.existingConfigMap -}}
{{- end -}}

{{/* A caller's policy id: its id, or the SPIFFE id template applied to namespace and serviceAccount. */}}
{{- define "livetokens.callerID" -}}
{{- $caller := .caller -}}
{{- if $caller.id -}}
{{- $caller.id -}}
{{- else -}}
{{- if not (and $caller.namespace $caller.serviceAccount) -}}
{{- fail "policy.callers: each caller needs id, or namespace and serviceAccount" -}}
{{- end -}}
{{- $vars := dict "trustDomain" .root.Values.policy.trustDomain "namespace" $caller.namespace "serviceAccount" $caller.serviceAccount -}}
{{- tpl .root.Values.policy.spiffeIDTemplate (merge $vars .root) -}}
{{- end -}}
{{- end -}}

{{/* A TOML key = value line; values are JSON, which TOML reads for strings, numbers, booleans and arrays of them. */}}
{{- define "livetokens.tomlPairs" -}}
{{- range $key, $value := . }}
{{ $key }} = {{ toJson $value }}
{{- end -}}
{{- end -}}
