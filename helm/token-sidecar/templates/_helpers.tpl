{{/*
=====================================================================================================
Naming and labels (the usual five).
=====================================================================================================
*/}}

{{/* The chart name, or nameOverride. */}}
{{- define "token-sidecar.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* A release-unique name for the chart's objects: fullnameOverride, or <release>-<name>. */}}
{{- define "token-sidecar.fullname" -}}
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

{{/* chart-version, for the helm.sh/chart label. */}}
{{- define "token-sidecar.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels on every object the chart creates. */}}
{{- define "token-sidecar.labels" -}}
helm.sh/chart: {{ include "token-sidecar.chart" . }}
{{ include "token-sidecar.selectorLabels" . }}
{{- with .Chart.AppVersion }}
app.kubernetes.io/version: {{ . | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* The immutable subset used in selectors. */}}
{{- define "token-sidecar.selectorLabels" -}}
app.kubernetes.io/name: {{ include "token-sidecar.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
=====================================================================================================
Scope resolution for the public templates.

Every public template (token-sidecar.container, .initContainers, .containers, .volumes,
.podAnnotations, .podLabels, .proxyUrl, .configMapName, .secretName) accepts either
  - this chart's own context: `.` inside this chart, or `.Subcharts.<name-or-alias>` in a parent;
  - a parent chart's root context `.`, when this chart is its dependency under the name
    "token-sidecar" (no alias): the dependency's scope is then taken from `.Subcharts`.
So names, values and the image tag (the subchart's appVersion) always come from this chart, and
the ConfigMap/Secret the subchart renders are the ones the pod spec refers to.
Templates cannot return objects: the resolved scope is written into the `out` dict.
=====================================================================================================
*/}}
{{- define "token-sidecar.scope" -}}
{{- $in := .in -}}
{{- $scope := $in -}}
{{- $subcharts := $in.Subcharts | default dict -}}
{{- if hasKey $subcharts "token-sidecar" -}}
{{- $scope = index $subcharts "token-sidecar" -}}
{{- end -}}
{{- $values := $scope.Values | default dict -}}
{{- if not (and (hasKey $values "sidecar") (hasKey $values "config") (hasKey $values "image")) -}}
{{- fail "token-sidecar templates need the token-sidecar chart's scope: pass `.` when the dependency is named token-sidecar, or `.Subcharts.<alias>` when it has an alias" -}}
{{- end -}}
{{- $_ := set .out "s" $scope -}}
{{- end -}}

{{/*
=====================================================================================================
Derived values (internal: expect this chart's scope).
=====================================================================================================
*/}}

{{/* The image reference: repository:tag, with @digest when one is set. */}}
{{- define "token-sidecar.image" -}}
{{- $tag := .Values.image.tag | default .Chart.AppVersion -}}
{{- if .Values.image.digest -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* The host part of an address "host:port" (dict "addr" ...). */}}
{{- define "token-sidecar.addrHost" -}}
{{- regexReplaceAll ":[0-9]+$" (toString .addr) "" -}}
{{- end -}}

{{/* The port part of an address "host:port" (dict "addr" ...). */}}
{{- define "token-sidecar.addrPort" -}}
{{- regexFind "[0-9]+$" (toString .addr) -}}
{{- end -}}

{{/* config.admin, the admin listener address (GET /metrics /healthz /readyz). */}}
{{- define "token-sidecar.adminAddr" -}}
{{- .Values.config.admin | default "0.0.0.0:9464" -}}
{{- end -}}

{{/* The admin port number: probes, the containerPort, scrape annotations and the PodMonitor use it. */}}
{{- define "token-sidecar.adminPort" -}}
{{- include "token-sidecar.addrPort" (dict "addr" (include "token-sidecar.adminAddr" .)) -}}
{{- end -}}

{{/* The directory of the file store, or "" when the store is not `file`. */}}
{{- define "token-sidecar.stateDir" -}}
{{- $store := .Values.config.store | default dict -}}
{{- if eq (toString $store.type) "file" -}}
{{- dir (toString $store.path) -}}
{{- end -}}
{{- end -}}

{{/* True ("true") when the sidecar mounts a credentials Secret: chart-managed or existing. */}}
{{- define "token-sidecar.hasSecret" -}}
{{- if or .Values.existingSecret .Values.credentials -}}true{{- end -}}
{{- end -}}

{{/*
Render-time checks: a mistake here would otherwise be a pod that never becomes ready.
*/}}
{{- define "token-sidecar.validate" -}}
{{- $v := .Values -}}
{{- $adminAddr := include "token-sidecar.adminAddr" . -}}
{{- $adminHost := include "token-sidecar.addrHost" (dict "addr" $adminAddr) -}}
{{- if not (regexMatch "^.*:[0-9]+$" $adminAddr) -}}
{{- fail (printf "config.admin: expected host:port, got %q" $adminAddr) -}}
{{- end -}}
{{- if or (regexMatch "^127\\." $adminHost) (has $adminHost (list "localhost" "[::1]" "::1")) -}}
{{- fail (printf "config.admin: %q binds loopback; the kubelet's probes and Prometheus reach the admin listener on the pod IP, so bind 0.0.0.0 (it serves no secrets)" $adminAddr) -}}
{{- end -}}
{{- if eq (include "token-sidecar.adminPort" .) "0" -}}
{{- fail "config.admin: port 0 picks a random port; probes and scraping need a fixed one (e.g. 0.0.0.0:9464)" -}}
{{- end -}}
{{- if and $v.existingSecret $v.credentials -}}
{{- fail "credentials and existingSecret are exclusive: either the chart creates the Secret from credentials, or it mounts existingSecret" -}}
{{- end -}}
{{- /* A route's provider is a built-in or one described under config.providers. */ -}}
{{- $described := $v.config.providers | default dict -}}
{{- range $name, $route := ($v.config.routes | default dict) -}}
{{- if not (or (has (toString $route.provider) (list "covver" "cobee" "petje" "light" "oauth2")) (hasKey $described (toString $route.provider))) -}}
{{- fail (printf "config.routes.%s.provider: expected covver, cobee, petje, light, oauth2 or a provider described under config.providers, got %q" $name (toString $route.provider)) -}}
{{- end -}}
{{- end -}}
{{- $store := $v.config.store | default dict -}}
{{- if and (eq (toString $store.type) "file") (not $store.path) -}}
{{- fail "config.store.path: required when config.store.type is file (e.g. /var/lib/token-sidecar/state.json); the chart mounts a writable volume at its directory" -}}
{{- end -}}
{{- if and (eq (toString $store.type) "file") $store.path (not (isAbs (toString $store.path))) -}}
{{- fail (printf "config.store.path: expected an absolute path, got %q" $store.path) -}}
{{- end -}}
{{- /* Every ${file:<secretMountPath>/<key>} in config must name a key of the chart-managed Secret. */ -}}
{{- if and $v.credentials (not $v.existingSecret) -}}
{{- $prefix := printf "${file:%s/" (trimSuffix "/" $v.sidecar.secretMountPath) -}}
{{- range regexFindAll (printf "%s[^}]+\\}" (regexQuoteMeta $prefix)) (toYaml $v.config) -1 -}}
{{- $key := trimSuffix "}" (trimPrefix $prefix .) -}}
{{- if not (hasKey $v.credentials $key) -}}
{{- fail (printf "config refers to %s but credentials has no key %q (keys: %s)" . $key (keys $v.credentials | sortAlpha | join ", ")) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* An HTTP probe on the admin port (dict "probe" <values> "path" ... "port" ...). */}}
{{- define "token-sidecar.probe" -}}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
{{ omit .probe "enabled" | toYaml }}
{{- end -}}

{{/*
=====================================================================================================
Public templates. See README.md, "Adding it to an existing app".
=====================================================================================================
*/}}

{{/* The ConfigMap holding config.yaml. */}}
{{- define "token-sidecar.configMapName" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- include "token-sidecar.fullname" $o.s -}}
{{- end -}}

{{/* The Secret mounted at sidecar.secretMountPath: existingSecret, or the chart's own. */}}
{{- define "token-sidecar.secretName" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- $o.s.Values.existingSecret | default (include "token-sidecar.fullname" $o.s) -}}
{{- end -}}

{{/* The base URL the app calls: http://127.0.0.1:<listen port>; append "/<route>". */}}
{{- define "token-sidecar.proxyUrl" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- $listen := $o.s.Values.config.listen | default "127.0.0.1:8080" -}}
{{- $host := include "token-sidecar.addrHost" (dict "addr" $listen) -}}
{{- if has $host (list "" "0.0.0.0" "[::]" "::") -}}{{- $host = "127.0.0.1" -}}{{- end -}}
{{- printf "http://%s:%s" $host (include "token-sidecar.addrPort" (dict "addr" $listen)) -}}
{{- end -}}

{{/* Pod labels (map entries): the PodMonitor selects pods by these. */}}
{{- define "token-sidecar.podLabels" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
token-sidecar/instance: {{ include "token-sidecar.fullname" $o.s }}
{{- end -}}

{{/* Pod annotations (map entries): config checksum (config is read at start) and scrape hints. */}}
{{- define "token-sidecar.podAnnotations" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- $s := $o.s -}}
checksum/token-sidecar-config: {{ toYaml $s.Values.config | sha256sum }}
{{- if $s.Values.metrics.annotations.enabled }}
prometheus.io/scrape: "true"
prometheus.io/port: {{ include "token-sidecar.adminPort" $s | quote }}
prometheus.io/path: /metrics
{{- end }}
{{- end -}}

{{/*
The sidecar container, as one list item. With sidecar.native it carries restartPolicy: Always and
belongs in initContainers; otherwise in containers. Prefer token-sidecar.initContainers and
token-sidecar.containers, which put it in the right list for the mode.
*/}}
{{- define "token-sidecar.container" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- $s := $o.s -}}
{{- $v := $s.Values -}}
{{- $_ := include "token-sidecar.validate" $s -}}
{{- $adminPortName := $v.sidecar.adminPortName -}}
{{- $stateDir := include "token-sidecar.stateDir" $s -}}
- name: {{ $v.sidecar.name }}
  image: {{ include "token-sidecar.image" $s | quote }}
  imagePullPolicy: {{ $v.image.pullPolicy }}
  {{- if $v.sidecar.native }}
  # Native sidecar: starts (and passes its startup probe) before the app, stops after it.
  restartPolicy: Always
  {{- end }}
  args:
    - --config
    - /etc/token-sidecar/config.yaml
    - --log-level
    - {{ $v.sidecar.logLevel }}
    {{- with $v.sidecar.extraArgs }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with $v.sidecar.env }}
  env:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.sidecar.envFrom }}
  envFrom:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  ports:
    - name: {{ $adminPortName }}
      containerPort: {{ include "token-sidecar.adminPort" $s }}
      protocol: TCP
  {{- if $v.sidecar.startupProbe.enabled }}
  startupProbe:
    {{- include "token-sidecar.probe" (dict "probe" $v.sidecar.startupProbe "path" "/readyz" "port" $adminPortName) | nindent 4 }}
  {{- end }}
  {{- if $v.sidecar.livenessProbe.enabled }}
  livenessProbe:
    {{- include "token-sidecar.probe" (dict "probe" $v.sidecar.livenessProbe "path" "/healthz" "port" $adminPortName) | nindent 4 }}
  {{- end }}
  {{- if $v.sidecar.readinessProbe.enabled }}
  readinessProbe:
    {{- include "token-sidecar.probe" (dict "probe" $v.sidecar.readinessProbe "path" "/readyz" "port" $adminPortName) | nindent 4 }}
  {{- end }}
  {{- if and (not $v.sidecar.native) $v.sidecar.classicPreStopSleepSeconds }}
  # Classic sidecar: the kubelet stops it together with the app; keep serving the app's last calls.
  lifecycle:
    preStop:
      exec:
        command: ["sleep", {{ $v.sidecar.classicPreStopSleepSeconds | toString | quote }}]
  {{- end }}
  {{- with $v.sidecar.resources }}
  resources:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.sidecar.securityContext }}
  securityContext:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  volumeMounts:
    - name: token-sidecar-config
      mountPath: /etc/token-sidecar
      readOnly: true
    {{- if include "token-sidecar.hasSecret" $s }}
    - name: token-sidecar-secrets
      mountPath: {{ $v.sidecar.secretMountPath }}
      readOnly: true
    {{- end }}
    - name: token-sidecar-tmp
      mountPath: /tmp
    {{- if and $stateDir (ne $stateDir "/tmp") (not (hasPrefix "/tmp/" $stateDir)) }}
    - name: token-sidecar-state
      mountPath: {{ $stateDir }}
    {{- end }}
    {{- with $v.sidecar.extraVolumeMounts }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
{{- end -}}

{{/* List items for the pod's initContainers: the sidecar when sidecar.native, else nothing. */}}
{{- define "token-sidecar.initContainers" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- if $o.s.Values.sidecar.native -}}
{{- include "token-sidecar.container" $o.s -}}
{{- end -}}
{{- end -}}

{{/* List items for the pod's containers: the sidecar when not sidecar.native, else nothing. */}}
{{- define "token-sidecar.containers" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- if not $o.s.Values.sidecar.native -}}
{{- include "token-sidecar.container" $o.s -}}
{{- end -}}
{{- end -}}

{{/* List items for the pod's volumes: config, credentials, /tmp, the file store's directory. */}}
{{- define "token-sidecar.volumes" -}}
{{- $o := dict -}}{{- $_ := include "token-sidecar.scope" (dict "in" . "out" $o) -}}
{{- $s := $o.s -}}
{{- $v := $s.Values -}}
{{- $stateDir := include "token-sidecar.stateDir" $s -}}
- name: token-sidecar-config
  configMap:
    name: {{ include "token-sidecar.fullname" $s }}
{{- if include "token-sidecar.hasSecret" $s }}
- name: token-sidecar-secrets
  secret:
    secretName: {{ include "token-sidecar.secretName" $s }}
    # 0444: the sidecar's numeric user must read the files without an fsGroup on the pod.
    defaultMode: 292
{{- end }}
- name: token-sidecar-tmp
  {{- if $v.sidecar.tmpSizeLimit }}
  emptyDir:
    sizeLimit: {{ $v.sidecar.tmpSizeLimit }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- if and $stateDir (ne $stateDir "/tmp") (not (hasPrefix "/tmp/" $stateDir)) }}
- name: token-sidecar-state
  {{- if $v.sidecar.stateVolume }}
  {{- toYaml $v.sidecar.stateVolume | nindent 2 }}
  {{- else }}
  emptyDir: {}
  {{- end }}
{{- end }}
{{- with $v.sidecar.extraVolumes }}
{{ toYaml . }}
{{- end }}
{{- end -}}
