{{- define "gitops-bot.labels" -}}
app.kubernetes.io/name: gitops-bot
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end }}

{{- define "gitops-bot.selector" -}}
app.kubernetes.io/name: gitops-bot
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Several replicas share their state through the cluster. */}}
{{- define "gitops-bot.kubeStore" -}}
{{- if or .Values.store.kubernetes (gt (int .Values.replicas) 1) }}true{{ end }}
{{- end }}

{{- define "gitops-bot.secretName" -}}
{{- .Values.existingSecret | default .Release.Name }}
{{- end }}

{{/* persistence.size in bytes: a whole number of Mi, Gi or Ti. */}}
{{- define "gitops-bot.volumeBytes" -}}
{{- $size := toString .Values.persistence.size }}
{{- $bytes := 0 }}
{{- range $unit, $mult := dict "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 }}
{{- if and (hasSuffix $unit $size) (regexMatch "^[0-9]+$" (trimSuffix $unit $size)) }}
{{- $bytes = mul (int64 (trimSuffix $unit $size)) $mult }}
{{- end }}
{{- end }}
{{- if not $bytes }}{{ fail (printf "persistence.size %q: want a whole number of Mi, Gi or Ti, such as 10Gi" $size) }}{{ end }}
{{- $bytes }}
{{- end }}

{{/*
The mirrors' cap (mirrors.maxBytes): four fifths of the volume unless
config.mirrors.maxBytes says otherwise. The rest is for what the cap does
not count: the embedded store's files, and a mirror being fetched before
the oldest are removed to make room.
*/}}
{{- define "gitops-bot.mirrorBytes" -}}
{{- $volume := include "gitops-bot.volumeBytes" . | int64 }}
{{- $room := div (mul $volume 4) 5 }}
{{- $set := dig "mirrors" "maxBytes" 0 (.Values.config | default dict) | int64 }}
{{- if gt $set $room }}{{ fail (printf "config.mirrors.maxBytes (%d) leaves less than a fifth of persistence.size (%s) for the stores beside the mirrors: raise persistence.size or lower the cap" $set (toString .Values.persistence.size)) }}{{ end }}
{{- $set | default $room }}
{{- end }}
