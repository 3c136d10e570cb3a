#!/usr/bin/env bash
# deploy/check.sh -- validate deploy/ offline (no Docker, no cluster, no
# downloads besides the Go module proxy).
#
#   1. Schemas: Kubernetes' own, generated from api/openapi-spec/swagger.json
#      of the k8s.io/kubernetes module, and the CRDs' (ServiceMonitor,
#      PrometheusRule, ScaledObject, TriggerAuthentication), generated from
#      the CRD YAMLs in the prometheus-operator and KEDA modules; all three
#      fetched with `go mod download` through the Go module proxy and turned
#      into kubeconform's layout by deploycheck. Cached under .run/ by
#      version (and by the converter's source). If a module cannot be
#      fetched within 2 minutes, falls back to kubeconform
#      -ignore-missing-schemas (YAML syntax only) and says so.
#   2. The Helm chart (deploy/helm/conveyor): helm lint --strict, then helm
#      template with the default values, with examples/production.yaml and
#      with that + examples/managed-pooler.yaml, each validated by
#      kubeconform -strict (no kind may lack a schema).
#   3. Consistency (deploycheck manifests) on both renders: CONVEYOR_* names
#      are real variables (internal/config), Secret keys are the ones
#      examples/secret.example.yaml lists, ports, probes, grace periods,
#      selectors, the Ingress (TLS, the five routes, /metrics, /healthz and
#      /readyz never forwarded), autoscalers (serve on CPU, the workers on
#      every asynq queue, never below one), PDBs, topology spread, network
#      policy (default deny, DNS, one PgBouncer pool per component), the
#      migration hook, and that the PrometheusRule and the dashboard
#      ConfigMap carry deploy/prometheus/rules.yaml and deploy/grafana/conveyor.json.
#   4. Prometheus rules, 5. Grafana dashboard, 6. docker compose (as before).
#   7. Negative controls: known-bad values and renders must be refused by
#      each validator, for the expected reason.
#
# Tools go to bin/ (git-ignored; `make deps` installs them at the
# Makefile's pins) and are reinstalled only when a pin changes. Prints the
# time of each step.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$ROOT/deploy
CHART=$DEPLOY/helm/conveyor
BIN=${DEPLOY_CHECK_BIN:-$ROOT/bin}
GO=${GO:-go}
export GOFLAGS=-buildvcs=false

# The pins live in the Makefile (make deps installs the same versions).
pin() { sed -n "s/^$1[[:space:]]*:=[[:space:]]*\([^[:space:]]*\).*/\1/p" "$ROOT/Makefile"; }
HELM_VERSION=$(pin HELM_VERSION)
KUBECONFORM_VERSION=$(pin KUBECONFORM_VERSION)
[[ -n $HELM_VERSION && -n $KUBECONFORM_VERSION ]] || { echo "FAIL: no HELM_VERSION/KUBECONFORM_VERSION in the Makefile" >&2; exit 1; }
# Schemas of the oldest Kubernetes the chart targets (the preStop sleep
# action needs >= 1.30; unhealthyPodEvictionPolicy is GA in 1.31).
K8S_VERSION=${K8S_VERSION:-v1.33.13}
# The operators' modules that ship their CRDs (the newest each proxy serves
# for Go 1.26: prometheus-operator's main module is served up to v0.85.0,
# KEDA v2.21 needs Go 1.27).
PROM_OPERATOR=github.com/prometheus-operator/prometheus-operator@v0.85.0
KEDA=github.com/kedacore/keda/v2@v2.20.2
SCHEMA_FETCH_LIMIT=120 # seconds
# helm template's cluster version (it assumes an old one when built with
# go install) and the release it renders.
HELM_RENDER=(template conveyor "$CHART" --namespace conveyor --kube-version "${K8S_VERSION#v}")

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

T0=$(date +%s%N)
step_start=0
step() { step_start=$(date +%s%N); printf '\n== %s\n' "$*"; }
done_step() { printf '   (%.1f s)\n' "$(( ($(date +%s%N) - step_start) / 1000000 ))e-3"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

# go_install NAME PKG VERSION: install into bin/ unless that version is there.
go_install() {
	local name=$1 pkg=$2 version=$3
	if [[ -x $BIN/$name && -e $BIN/.$name-$version ]]; then
		echo "   $name $version already in bin/"
		return
	fi
	echo "   go install $pkg@$version"
	mkdir -p "$BIN"
	GOBIN=$BIN $GO install "$pkg@$version"
	rm -f "$BIN/.$name-"* && touch "$BIN/.$name-$version"
}

# helm prints a warning for each symlink it follows (files/rules.yaml and
# files/conveyor.json link to the one copy of each under deploy/).
helm() {
	local rc=0
	"$BIN/helm" "$@" 2>"$WORK/helm.err" || rc=$?
	grep -v 'found symbolic link in path' "$WORK/helm.err" >&2 || true
	return $rc
}

step "tools: helm $HELM_VERSION, kubeconform $KUBECONFORM_VERSION, deploycheck"
go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION"
go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
(cd "$DEPLOY/tools/deploycheck" && $GO build -o "$BIN/deploycheck" .)
done_step

# mod_dir MODULE@VERSION: the module's folder in the module cache, fetched
# through the Go module proxy (outside the repository, so go.mod and go.sum
# are never touched); empty on failure.
mod_dir() {
	local info
	if info=$(cd "$WORK" && timeout "$SCHEMA_FETCH_LIMIT" $GO mod download -json "$1" 2>"$WORK/dl.err"); then
		sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info"
	else
		echo "   WARNING: could not fetch $1 within ${SCHEMA_FETCH_LIMIT}s:" >&2
		{ sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"${info:-}"; cat "$WORK/dl.err"; } | sed 's/^/     /' | tail -5 >&2
	fi
}

step "schemas: Kubernetes $K8S_VERSION, CRDs of ${PROM_OPERATOR#*/} and ${KEDA#*/} (Go module proxy)"
MODE=schemas
key=$(cat "$DEPLOY/tools/deploycheck/schemas.go" "$DEPLOY/tools/deploycheck/crdschemas.go" | sha256sum | cut -c1-12)
SCHEMAS=$ROOT/.run/deploy-schemas/$K8S_VERSION-${PROM_OPERATOR##*@}-${KEDA##*@}-$key
if [[ -e $SCHEMAS/.complete ]]; then
	echo "   cached in ${SCHEMAS#"$ROOT"/} ($(find "$SCHEMAS" -name '*.json' | wc -l) schemas)"
else
	k8s=$(mod_dir "k8s.io/kubernetes@$K8S_VERSION")
	po=$(mod_dir "$PROM_OPERATOR")
	keda=$(mod_dir "$KEDA")
	if [[ -n $k8s && -n $po && -n $keda ]]; then
		rm -rf "$SCHEMAS" && mkdir -p "$SCHEMAS"
		"$BIN/deploycheck" schemas -swagger "$k8s/api/openapi-spec/swagger.json" -out "$SCHEMAS"
		"$BIN/deploycheck" crdschemas -out "$SCHEMAS" \
			"$po/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
			"$po/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" \
			"$keda/config/crd/bases/keda.sh_scaledobjects.yaml" \
			"$keda/config/crd/bases/keda.sh_triggerauthentications.yaml"
		touch "$SCHEMAS/.complete"
	else
		MODE=fallback
		echo "   FALLING BACK to kubeconform -strict -ignore-missing-schemas (YAML syntax only);"
		echo "   the consistency checks below still run."
	fi
fi
done_step

kubeconform() {
	if [[ $MODE == schemas ]]; then
		"$BIN/kubeconform" -strict -summary \
			-schema-location "$SCHEMAS/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
	else
		# An empty local schema folder: every kind is "missing" and skipped,
		# so kubeconform only parses the YAML (the default location would
		# try the network).
		mkdir -p "$WORK/no-schemas"
		"$BIN/kubeconform" -strict -summary -ignore-missing-schemas \
			-schema-location "$WORK/no-schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
	fi
}

EXAMPLES=$DEPLOY/helm/examples
step "helm lint --strict (default values, examples/production.yaml, + examples/managed-pooler.yaml)"
helm lint --strict --quiet --kube-version "${K8S_VERSION#v}" "$CHART"
helm lint --strict --quiet --kube-version "${K8S_VERSION#v}" "$CHART" -f "$EXAMPLES/production.yaml"
helm lint --strict --quiet --kube-version "${K8S_VERSION#v}" "$CHART" -f "$EXAMPLES/production.yaml" -f "$EXAMPLES/managed-pooler.yaml"
done_step

step "helm template: the same three"
helm "${HELM_RENDER[@]}" >"$WORK/default.yaml"
helm "${HELM_RENDER[@]}" -f "$EXAMPLES/production.yaml" >"$WORK/production.yaml"
helm "${HELM_RENDER[@]}" -f "$EXAMPLES/production.yaml" -f "$EXAMPLES/managed-pooler.yaml" >"$WORK/managed-pooler.yaml"
for f in default production managed-pooler; do
	echo "   $f: $(grep '^kind:' "$WORK/$f.yaml" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $3, $1; sep=", "}')"
done
done_step

step "kubeconform -strict ($MODE): the renders and the Secret template"
kubeconform "$WORK/default.yaml" "$WORK/production.yaml" "$WORK/managed-pooler.yaml" "$EXAMPLES/secret.example.yaml"
done_step

# manifests FILE: the consistency checks on one render.
manifests() {
	"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/helm/examples/secret.example.yaml" \
		-rules "$DEPLOY/prometheus/rules.yaml" -dashboard "$DEPLOY/grafana/conveyor.json" "$@"
}

step "chart consistency (deploycheck manifests): the three renders"
manifests "$WORK/default.yaml"
manifests "$WORK/production.yaml"
manifests "$WORK/managed-pooler.yaml"
done_step

step "Prometheus rules (rulefmt + PromQL parse, metric names)"
"$BIN/deploycheck" rules -repo "$ROOT" "$DEPLOY/prometheus/rules.yaml"
done_step

step "Grafana dashboard (JSON, PromQL parse, metric names, variables)"
"$BIN/deploycheck" dashboard -repo "$ROOT" -rules "$DEPLOY/prometheus/rules.yaml" "$DEPLOY/grafana/conveyor.json"
done_step

step "docker compose file (compose-go loader + structure; cannot run here)"
"$BIN/deploycheck" compose -repo "$ROOT" "$DEPLOY/docker-compose.yaml"
done_step

step "negative controls: broken values and renders must be rejected"
# expect_fail WHAT PATTERN CMD...: CMD must fail, saying PATTERN.
expect_fail() {
	local what=$1 pattern=$2
	shift 2
	if "$@" >"$WORK/neg.out" 2>&1; then
		cat "$WORK/neg.out"
		fail "negative control passed but should fail: $what"
	fi
	if ! grep -q -- "$pattern" "$WORK/neg.out"; then
		cat "$WORK/neg.out"
		fail "negative control failed for another reason than expected ($pattern): $what"
	fi
	echo "   rejected as expected: $what"
}
# bad NAME SED-EXPR [FILE]: $WORK/NAME.yaml, a copy of a render with one
# edit, which must change it (a pattern that no longer matches would test
# nothing).
bad() {
	local src=${3:-$WORK/default.yaml}
	sed "$2" "$src" >"$WORK/$1.yaml"
	if cmp -s "$src" "$WORK/$1.yaml"; then fail "negative control $1: the edit '$2' changed nothing"; fi
}
# Values: the chart's values.schema.json, and a value the schema lets
# through that renders an invalid object.
printf 'serve:\n  replicas: two\n' >"$WORK/bad-values-type.yaml"
expect_fail "a wrongly typed value (values.schema.json)" "at '/serve/replicas': got string, want integer" \
	helm lint --kube-version "${K8S_VERSION#v}" "$CHART" -f "$WORK/bad-values-type.yaml"
printf 'metrics:\n  serviceMonitor:\n    enable: true\n' >"$WORK/bad-values-switch.yaml"
expect_fail "a misspelt switch, which would be ignored (values.schema.json)" "additional properties 'enable' not allowed" \
	helm lint --kube-version "${K8S_VERSION#v}" "$CHART" -f "$WORK/bad-values-switch.yaml"
printf 'podSecurityContext:\n  runAsUser: nobody\n' >"$WORK/bad-values-render.yaml"
helm "${HELM_RENDER[@]}" -f "$WORK/bad-values-render.yaml" >"$WORK/bad-values-render.out.yaml"
if [[ $MODE == schemas ]]; then
	expect_fail "a values file rendering runAsUser: nobody (kubeconform)" "runAsUser.*want integer\|runAsUser.*expected integer" \
		kubeconform "$WORK/bad-values-render.out.yaml"
	bad bad-field 's/^  revisionHistoryLimit:/  revisionHistoryLimits:/'
	expect_fail "unknown field in a Deployment (kubeconform)" "additional properties 'revisionHistoryLimits'" \
		kubeconform "$WORK/bad-field.yaml"
	bad bad-keda 's/^  minReplicaCount:/  minReplicaCounts:/' "$WORK/production.yaml"
	expect_fail "unknown field in the ScaledObject (kubeconform, KEDA's CRD schema)" "additional properties 'minReplicaCounts'" \
		kubeconform "$WORK/bad-keda.yaml"
	bad bad-sm 's/^    - port: metrics$/    - ports: metrics/' "$WORK/production.yaml"
	expect_fail "unknown field in the ServiceMonitor (kubeconform, the operator's CRD schema)" "additional properties 'ports'" \
		kubeconform "$WORK/bad-sm.yaml"
fi
helm "${HELM_RENDER[@]}" --set config.CONVEYOR_S3_BUCKETS=x >"$WORK/bad-var.yaml"
expect_fail "misspelt configuration variable in values (manifests)" "CONVEYOR_S3_BUCKETS is not a variable" manifests "$WORK/bad-var.yaml"
bad bad-grace 's/terminationGracePeriodSeconds: 40/terminationGracePeriodSeconds: 20/'
expect_fail "grace period shorter than preStop + shutdown (manifests)" "terminationGracePeriodSeconds 20" \
	manifests "$WORK/bad-grace.yaml"
bad bad-internal 's/CONVEYOR_INTERNAL_ADDR: "0.0.0.0:6060"/CONVEYOR_INTERNAL_ADDR: "127.0.0.1:6060"/'
expect_fail "serve's internal listener (metrics, pprof) on loopback (manifests)" "CONVEYOR_INTERNAL_ADDR listens on loopback" \
	manifests "$WORK/bad-internal.yaml"
bad bad-ingress-metrics 's|^          - path: /metrics$|          - path: /metricz|'
expect_fail "/metrics reachable through the ingress (manifests)" "GET /metrics would reach Service/conveyor " \
	manifests "$WORK/bad-ingress-metrics.yaml"
bad bad-ingress-host 's/^    - host: "conveyor.example.com"$/    - host: "other.example.com"/'
expect_fail "an ingress host without TLS, not CONVEYOR_PUBLIC_URL's (manifests)" 'host "other.example.com" is not covered by a tls entry' \
	manifests "$WORK/bad-ingress-host.yaml"
bad bad-ingress-route 's|^          - path: /team-manager$|          - path: /team-managers|'
expect_fail "a missing route of the five (manifests)" "has no Prefix path /team-manager to the serve pods" \
	manifests "$WORK/bad-ingress-route.yaml"
bad bad-keda-min 's/^  minReplicaCount: 2$/  minReplicaCount: 0/' "$WORK/production.yaml"
expect_fail "the workers scaled to zero (manifests)" "minReplicaCount 0" \
	manifests "$WORK/bad-keda-min.yaml"
helm "${HELM_RENDER[@]}" -f "$EXAMPLES/production.yaml" --set 'worker.autoscaling.keda.queues={high,default}' >"$WORK/bad-queues.yaml"
expect_fail "a queue without KEDA triggers (manifests)" 'queue "low" (internal/queue) has no trigger on its pending list' manifests "$WORK/bad-queues.yaml"
bad bad-formula 's/^      formula: "pending_high + active_high + /      formula: "pending_high + /' "$WORK/production.yaml"
expect_fail "KEDA's formula leaving out a trigger (manifests)" "is not the sum of its redis triggers" manifests "$WORK/bad-formula.yaml"
helm "${HELM_RENDER[@]}" --set networkPolicy.enabled=false >"$WORK/bad-np.yaml"
expect_fail "no NetworkPolicy (manifests)" "no NetworkPolicy" manifests "$WORK/bad-np.yaml"
bad bad-pool '/^  name: conveyor-serve$/,/^---/s/app.kubernetes.io\/component: pgbouncer-api/app.kubernetes.io\/component: pgbouncer-worker/'
expect_fail "serve reaching the workers' PgBouncer pool (manifests)" "egress to the other component's PgBouncer pool (pgbouncer-worker)" \
	manifests "$WORK/bad-pool.yaml"
bad bad-rule 's/alert: ConveyorAPIAbsent$/alert: ConveyorAPIGone/' "$WORK/production.yaml"
expect_fail "a PrometheusRule that is not rules.yaml (manifests)" "differ from deploy/prometheus/rules.yaml" \
	manifests "$WORK/bad-rule.yaml"
sed 's/conveyor_db_replica_healthy)/conveyor_db_replica_health)/' "$DEPLOY/prometheus/rules.yaml" >"$WORK/bad-rules-name.yaml"
expect_fail "unknown metric in a rule" "conveyor_db_replica_health is not a metric" "$BIN/deploycheck" rules -repo "$ROOT" "$WORK/bad-rules-name.yaml"
sed 's/histogram_quantile(0.50, /histogram_quantile(0.50 /' "$DEPLOY/prometheus/rules.yaml" >"$WORK/bad-rules-syntax.yaml"
expect_fail "PromQL syntax error in a rule" "parse error" "$BIN/deploycheck" rules -repo "$ROOT" "$WORK/bad-rules-syntax.yaml"
sed 's/conveyor_db_pool_idle_conns/conveyor_db_pool_idle_connections/' "$DEPLOY/grafana/conveyor.json" >"$WORK/bad-dash.json"
expect_fail "unknown metric in a dashboard query" "conveyor_db_pool_idle_connections is not a metric" \
	"$BIN/deploycheck" dashboard -repo "$ROOT" -rules "$DEPLOY/prometheus/rules.yaml" "$WORK/bad-dash.json"
# (Outside deploy/ its bind mounts are missing too; the pattern pins the
# failure to the schema.)
sed 's/^    stop_grace_period: 30s$/    stop_grace_periods: 30s/' "$DEPLOY/docker-compose.yaml" >"$WORK/bad-compose.yaml"
expect_fail "unknown compose attribute (compose-go schema)" "stop_grace_periods false schema" \
	"$BIN/deploycheck" compose -repo "$ROOT" "$WORK/bad-compose.yaml"
done_step

printf '\ndeploy/check.sh: all checks passed (kubernetes schemas: %s) in %.1f s\n' \
	"$MODE" "$(( ($(date +%s%N) - T0) / 1000000 ))e-3"
if [[ $MODE == fallback ]]; then
	echo "NOTE: Kubernetes objects were NOT validated against schemas (fallback mode)."
fi
