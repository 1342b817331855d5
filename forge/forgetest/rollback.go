package forgetest

// RollbackFleet is a repository with one HelmRelease in staging, for the
// /rollback test each host runs end to end.
var RollbackFleet = map[string]string{
	"README.md": "fleet\n",
	"clusters/staging/podinfo.yaml": `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: podinfo
  namespace: flux-system
spec:
  interval: 5m
  chart:
    spec:
      chart: podinfo
      version: 6.7.0
      sourceRef:
        kind: HelmRepository
        name: podinfo
  values:
    replicaCount: 1 # one is enough here
`,
}
