package app

import (
	"path"

	"sigs.k8s.io/yaml"

	"github.com/gitops-bot/gitops-bot/providers"
)

// The chart's templates: the same workload as the Kustomize base, with the
// values an environment changes (image tag, replicas, host) as values.
const (
	deploymentTemplate = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  replicas: {{ .Values.replicaCount }}
  selector:
    matchLabels:
      {{- include "app.labels" . | nindent 6 }}
  template:
    metadata:
      labels:
        {{- include "app.labels" . | nindent 8 }}
    spec:
      securityContext:
        runAsNonRoot: true
        seccompProfile:
          type: RuntimeDefault
      containers:
        - name: {{ .Chart.Name }}
          image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
          ports:
            - name: http
              containerPort: {{ .Values.containerPort }}
              protocol: TCP
          readinessProbe:
            tcpSocket:
              port: http
            initialDelaySeconds: 5
            periodSeconds: 10
          livenessProbe:
            tcpSocket:
              port: http
            initialDelaySeconds: 15
            periodSeconds: 10
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
            capabilities:
              drop: ["ALL"]
`
	serviceTemplate = `apiVersion: v1
kind: Service
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  selector:
    {{- include "app.labels" . | nindent 4 }}
  ports:
    - name: http
      port: {{ .Values.service.port }}
      targetPort: http
      protocol: TCP
`
	ingressTemplate = `{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ .Release.Name }}
  labels:
    {{- include "app.labels" . | nindent 4 }}
spec:
  rules:
    - host: {{ .Values.ingress.host | quote }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ .Release.Name }}
                port:
                  name: http
{{- end }}
`
	helpersTemplate = `{{- define "app.labels" -}}
app.kubernetes.io/name: {{ .Release.Name }}
{{- end }}
`
)

// chart: Chart.yaml, values.yaml, the templates, and values-<env>.yaml.
func chart(req providers.AppRequest) ([]providers.Manifest, error) {
	raw := func(name string, b []byte) providers.Manifest {
		return providers.Manifest{Path: path.Join(req.Chart, name), Raw: b}
	}
	chartYAML, err := yaml.Marshal(map[string]any{
		"apiVersion": "v2", "name": req.App, "description": "The " + req.App + " application, deployed by gitops-bot.",
		"type": "application", "version": "0.1.0", "appVersion": req.Image.Tag,
	})
	if err != nil {
		return nil, err
	}
	values, err := yaml.Marshal(map[string]any{
		"replicaCount":  1,
		"image":         map[string]any{"repository": req.Image.Name, "tag": req.Image.Tag},
		"containerPort": req.Port,
		"service":       map[string]any{"port": servicePort},
		"ingress":       map[string]any{"enabled": req.Host != "", "host": req.Host},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "100m", "memory": "128Mi"},
			"limits":   map[string]any{"memory": "256Mi"},
		},
	})
	if err != nil {
		return nil, err
	}
	out := []providers.Manifest{
		raw("Chart.yaml", chartYAML),
		raw("values.yaml", values),
		raw("templates/_helpers.tpl", []byte(helpersTemplate)),
		raw("templates/deployment.yaml", []byte(deploymentTemplate)),
		raw("templates/service.yaml", []byte(serviceTemplate)),
		raw("templates/ingress.yaml", []byte(ingressTemplate)),
	}
	for _, e := range req.Envs {
		v, err := yaml.Marshal(map[string]any{"replicaCount": req.Replicas, "image": map[string]any{"tag": req.Image.Tag}})
		if err != nil {
			return nil, err
		}
		out = append(out, providers.Manifest{Path: e.Values, Env: e.Name, Raw: v})
	}
	return out, nil
}
