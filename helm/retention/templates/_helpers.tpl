{{/*
Names, labels and the one pod spec every workload of the chart shares, so that the
scheduled run, the shards, the migration, the erasure and the test pods cannot drift
apart in their security context, mounts or secrets.
*/}}

{{- define "retention.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The resource name prefix. Truncated to 52 characters because a CronJob name is
limited to 52 (its Jobs append an 11-character suffix).
*/}}
{{- define "retention.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "retention.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "retention.selectorLabels" -}}
app.kubernetes.io/name: {{ include "retention.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "retention.labels" -}}
helm.sh/chart: {{ include "retention.chart" . }}
{{ include "retention.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: retention
{{- end }}

{{/* Labels with a component: call with (dict "root" $ "component" "run"). */}}
{{- define "retention.componentLabels" -}}
{{ include "retention.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "retention.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "retention.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "retention.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "retention.configMapName" -}}
{{- default (printf "%s-config" (include "retention.fullname" .)) .Values.configExistingConfigMap }}
{{- end }}

{{- define "retention.rulesConfigMapName" -}}
{{- default (printf "%s-rules" (include "retention.fullname" .)) .Values.rulesExistingConfigMap }}
{{- end }}

{{- define "retention.secretName" -}}
{{- default (include "retention.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{/*
The pod spec of every workload. Call with a dict:
  root            the chart context ($)
  component       the app.kubernetes.io/component label value
  args            the retention subcommand and its arguments (a list)
  env             extra environment entries (a list, may be empty)
  restartPolicy   Never or OnFailure
  serviceAccount  the ServiceAccount name
  configMap       the ConfigMap holding retention.yaml
  rulesConfigMap  the ConfigMap holding the rule files
  name            optional: a name, for a bare Pod
  annotations     optional: annotations besides podAnnotations, for a bare Pod
The global flags come first so that every container logs JSON.
*/}}
{{- define "retention.podTemplate" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
metadata:
  {{- with .name }}
  name: {{ . }}
  {{- end }}
  labels:
    {{- include "retention.componentLabels" (dict "root" $root "component" .component) | nindent 4 }}
    {{- with $v.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with merge (dict) (default (dict) .annotations) $v.podAnnotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  restartPolicy: {{ .restartPolicy }}
  serviceAccountName: {{ .serviceAccount }}
  automountServiceAccountToken: {{ $v.serviceAccount.automountToken }}
  terminationGracePeriodSeconds: {{ $v.terminationGracePeriodSeconds }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  containers:
    - name: retention
      image: {{ include "retention.image" $root | quote }}
      imagePullPolicy: {{ $v.image.pullPolicy }}
      args:
        - --config
        - /etc/retention/retention.yaml
        - --log-format
        - json
        {{- range .args }}
        - {{ . | quote }}
        {{- end }}
      env:
        {{- /* Tools that honour TMPDIR write to the emptyDir, not the read-only root. */}}
        - name: TMPDIR
          value: /tmp
        {{- range $v.env }}
        - {{ toYaml . | nindent 10 | trim }}
        {{- end }}
        {{- range $v.secrets.env }}
        - name: {{ .name }}
          valueFrom:
            secretKeyRef:
              name: {{ .secretName }}
              key: {{ .key }}
        {{- end }}
        {{- range .env }}
        - {{ toYaml . | nindent 10 | trim }}
        {{- end }}
      envFrom:
        - secretRef:
            name: {{ include "retention.secretName" $root }}
      securityContext:
        {{- toYaml $v.securityContext | nindent 8 }}
      resources:
        {{- toYaml $v.resources | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/retention/retention.yaml
          subPath: retention.yaml
          readOnly: true
        - name: rules
          mountPath: /etc/retention/rules
          readOnly: true
        - name: tmp
          mountPath: /tmp
        {{- with $v.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ .configMap }}
        items:
          - key: retention.yaml
            path: retention.yaml
    - name: rules
      configMap:
        name: {{ .rulesConfigMap }}
    - name: tmp
      emptyDir:
        {{- with $v.tmpVolume.sizeLimit }}
        sizeLimit: {{ . }}
        {{- end }}
    {{- with $v.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/*
The pod template arguments every release-managed workload shares (the scheduled run,
the erasure, the test pods): the release's own ConfigMaps and ServiceAccount.
*/}}
{{- define "retention.podArgs" -}}
{{- $root := .root -}}
{{- $_ := set . "serviceAccount" (include "retention.serviceAccountName" $root) -}}
{{- $_ := set . "configMap" (include "retention.configMapName" $root) -}}
{{- $_ := set . "rulesConfigMap" (include "retention.rulesConfigMapName" $root) -}}
{{- if not (hasKey . "env") }}{{ $_ := set . "env" list }}{{ end -}}
{{- if not (hasKey . "restartPolicy") }}{{ $_ := set . "restartPolicy" "Never" }}{{ end -}}
{{- include "retention.podTemplate" . -}}
{{- end }}

{{/*
Stop retrying at once on the exit codes that a retry cannot change, and do not count
a pod that was evicted or preempted (it received SIGTERM, finished its batch and
exited) against the backoff limit: the retry continues where it stopped.
*/}}
{{- define "retention.podFailurePolicy" -}}
podFailurePolicy:
  rules:
    {{- with .Values.failFastExitCodes }}
    - action: FailJob
      onExitCodes:
        containerName: retention
        operator: In
        values:
          {{- toYaml . | nindent 10 }}
    {{- end }}
    - action: Ignore
      onPodConditions:
        - type: DisruptionTarget
          status: "True"
{{- end }}

{{/* The arguments of the scheduled `retention run`, without --shard. */}}
{{- define "retention.runArgs" -}}
- run
{{- if .Values.run.allowMassDelete }}
- --allow-mass-delete
{{- end }}
{{- range .Values.run.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
