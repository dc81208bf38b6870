{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "crdb-cloud-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name: the prefix of every object name. The release name alone when it already contains the
chart name (so `helm install crdb-cloud-operator ...` names everything `crdb-cloud-operator`).
*/}}
{{- define "crdb-cloud-operator.fullname" -}}
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

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "crdb-cloud-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every object.
*/}}
{{- define "crdb-cloud-operator.labels" -}}
helm.sh/chart: {{ include "crdb-cloud-operator.chart" . }}
{{ include "crdb-cloud-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: crdb-cloud-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels selecting the operator's pods.
*/}}
{{- define "crdb-cloud-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "crdb-cloud-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The ServiceAccount the operator runs as.
*/}}
{{- define "crdb-cloud-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "crdb-cloud-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The Secret holding the operator-wide API key, and its key.
*/}}
{{- define "crdb-cloud-operator.apiKeySecretName" -}}
{{- if .Values.apiKey.existingSecret }}
{{- .Values.apiKey.existingSecret }}
{{- else }}
{{- printf "%s-api-key" (include "crdb-cloud-operator.fullname" .) | trunc 253 }}
{{- end }}
{{- end }}

{{- define "crdb-cloud-operator.apiKeySecretKey" -}}
{{- if .Values.apiKey.existingSecret }}
{{- .Values.apiKey.existingSecretKey }}
{{- else -}}
apiKey
{{- end }}
{{- end }}

{{/*
The leader-election Lease: one per release, whatever namespace it watches, so that replicas of
the release never reconcile at the same time, even while an upgrade changes watchNamespace. The
default release (`crdb-cloud-operator`) keeps the name earlier versions used for all namespaces.
*/}}
{{- define "crdb-cloud-operator.leaseName" -}}
{{- include "crdb-cloud-operator.fullname" . }}
{{- end }}

{{/*
The operator image.
*/}}
{{- define "crdb-cloud-operator.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Checks of value combinations the schema cannot express with a readable message.
*/}}
{{- define "crdb-cloud-operator.validate" -}}
{{- if and .Values.apiKey.existingSecret .Values.apiKey.value }}
{{- fail "apiKey.existingSecret and apiKey.value are mutually exclusive: set one of them" }}
{{- end }}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true (otherwise every replica reconciles)" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.metrics.service.enabled) }}
{{- fail "serviceMonitor.enabled needs metrics.service.enabled=true (the ServiceMonitor scrapes that Service)" }}
{{- end }}
{{- end }}

{{/*
The resource names (plurals) of the kinds the operator serves, as a JSON list, read from the CRDs the
chart installs (generated from the operator's registry of kinds by `make crds`), so the RBAC rules
follow every kind without a hand-written list.
*/}}
{{- define "crdb-cloud-operator.plurals" -}}
{{- $plurals := list }}
{{- range $doc := regexSplit "(?m)^---$" (.Files.Get "crds/crdbcloud.io.yaml") -1 }}
{{- $crd := fromYaml $doc }}
{{- if and $crd.spec $crd.spec.names }}
{{- $plurals = append $plurals $crd.spec.names.plural }}
{{- end }}
{{- end }}
{{- if not $plurals }}
{{- fail "the chart's crds/crdbcloud.io.yaml holds no CRD" }}
{{- end }}
{{- toJson $plurals }}
{{- end }}

{{/*
RBAC rules of the operator for the namespaces it watches. Least privilege: no delete anywhere
(finalizers and owner references do the clean-up), no CRD access.
*/}}
{{- define "crdb-cloud-operator.rules" -}}
{{- $plurals := include "crdb-cloud-operator.plurals" . | fromJsonArray -}}
# The custom resources: watched, finalizers added and removed (patch/update).
- apiGroups: ["crdbcloud.io"]
  resources: {{ toJson $plurals | replace "\",\"" "\", \"" }}
  verbs: ["get", "list", "watch", "patch", "update"]
# Their status, written with server-side apply.
- apiGroups: ["crdbcloud.io"]
  resources: [{{ range $i, $plural := $plurals }}{{ if $i }}, {{ end }}"{{ $plural }}/status"{{ end }}]
  verbs: ["get", "patch", "update"]
# Owner references with blockOwnerDeletion on the Secrets a SQLUser or an APIKey owns (needed
# where the OwnerReferencesPermissionEnforcement admission plugin is on, e.g. OpenShift).
- apiGroups: ["crdbcloud.io"]
  resources: ["sqlusers/finalizers", "apikeys/finalizers"]
  verbs: ["update"]
# Secrets: credentialsRef/passwordSecretRef reads, a metadata watch for rotations, the generated
# password Secret (create) and the connection Secret (server-side apply). Owned Secrets are
# garbage-collected through their owner references, so no delete.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
# ConfigMaps: spec.clientCACert.configMapRef reads and a metadata watch for changes.
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
# Events about the resources.
- apiGroups: ["", "events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

{{/*
PromQL label matchers of this installation's operator series (alerts.operatorSelector).
*/}}
{{- define "crdb-cloud-operator.alertSelector" -}}
{{- .Values.alerts.operatorSelector | default (printf "namespace=%q" .Release.Namespace) }}
{{- end }}

{{/*
PromQL label matchers of kube-state-metrics' series of the operator Deployment.
*/}}
{{- define "crdb-cloud-operator.deploymentSelector" -}}
{{- .Values.alerts.operatorNotReady.selector | default (printf "namespace=%q,deployment=%q" .Release.Namespace (include "crdb-cloud-operator.fullname" .)) }}
{{- end }}
