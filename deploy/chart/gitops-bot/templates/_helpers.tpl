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
