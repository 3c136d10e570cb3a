#!/usr/bin/env bash
# deploy/check.sh -- validate deploy/ offline (no Docker, no cluster, no
# downloads besides the Go module proxy).
#
#   1. Kubernetes: render both kustomizations with a pinned kustomize, then
#      kubeconform -strict against JSON schemas generated here from
#      api/openapi-spec/swagger.json of the k8s.io/kubernetes module (fetched
#      through the Go module proxy). If that module cannot be fetched within
#      2 minutes, falls back to kubeconform -ignore-missing-schemas (which
#      then checks YAML syntax only) and says so.
#   2. Consistency (deploycheck manifests): ConfigMap/env names are real
#      CONVEYOR_* variables (internal/config), every secretKeyRef key is in
#      the Secret template and the template holds no values, ports, probes,
#      preStop + shutdown timeout vs terminationGracePeriodSeconds, selectors;
#      the Ingress: TLS for its host (CONVEYOR_PUBLIC_URL's), the five routes
#      to serve, /metrics, /healthz and /readyz never forwarded.
#   3. Prometheus rules: parsed and validated with Prometheus' own rule-file
#      parser (model/rulefmt + promql/parser, what `promtool check rules`
#      runs; promtool itself does not `go install` from the proxy), plus
#      every metric named is exported by the Go code or recorded in the file.
#   4. Grafana: the JSON parses, every query parses as PromQL (Grafana
#      variables substituted), every metric is exported by the Go code or
#      recorded in rules.yaml, every $variable is defined.
#   5. Compose: loaded with compose-go, the loader `docker compose` uses
#      (Compose Specification schema, interpolation, references), plus the
#      same variable-name and file checks; it cannot run here.
#   6. Negative controls: known-bad copies must fail each validator, so a
#      validator that silently checks nothing is caught.
#
# Tools go to bin/ (git-ignored) and are reinstalled only when their pinned
# version changes. Prints the time of each step.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$ROOT/deploy
BIN=${DEPLOY_CHECK_BIN:-$ROOT/bin}
GO=${GO:-go}
export GOFLAGS=-buildvcs=false

KUBECONFORM_VERSION=v0.8.0
KUSTOMIZE_VERSION=v5.8.1 # v5.8.2 and later need go >= 1.27
# Schemas of the oldest Kubernetes the manifests target (the preStop sleep
# action needs >= 1.30; unhealthyPodEvictionPolicy is GA in 1.31).
K8S_VERSION=${K8S_VERSION:-v1.33.13}
SCHEMA_FETCH_LIMIT=120 # seconds

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

step "tools: kubeconform $KUBECONFORM_VERSION, kustomize $KUSTOMIZE_VERSION, deploycheck"
go_install kubeconform github.com/yannh/kubeconform/cmd/kubeconform "$KUBECONFORM_VERSION"
go_install kustomize sigs.k8s.io/kustomize/kustomize/v5 "$KUSTOMIZE_VERSION"
(cd "$DEPLOY/tools/deploycheck" && $GO build -o "$BIN/deploycheck" .)
done_step

step "Kubernetes $K8S_VERSION schemas from k8s.io/kubernetes (Go module proxy)"
MODE=schemas
# Run outside the repository so the download can never touch go.mod/go.sum.
if info=$(cd "$WORK" && timeout "$SCHEMA_FETCH_LIMIT" $GO mod download -json "k8s.io/kubernetes@$K8S_VERSION" 2>"$WORK/dl.err"); then
	dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$info")
	zip=$(sed -n 's/^[[:space:]]*"Zip": "\(.*\)",$/\1/p' <<<"$info")
	swagger=$dir/api/openapi-spec/swagger.json
	[[ -f $swagger ]] || fail "no $swagger"
	echo "   module zip $(du -h "$zip" | cut -f1), swagger.json $(du -h "$swagger" | cut -f1)"
	"$BIN/deploycheck" schemas -swagger "$swagger" -out "$WORK/schemas"
else
	MODE=fallback
	echo "   WARNING: could not fetch k8s.io/kubernetes@$K8S_VERSION within ${SCHEMA_FETCH_LIMIT}s:"
	{ sed -n 's/^[[:space:]]*"Error": "\(.*\)",\{0,1\}$/\1/p' <<<"${info:-}"; cat "$WORK/dl.err"; } | sed 's/^/     /' | tail -5
	echo "   FALLING BACK to kubeconform -strict -ignore-missing-schemas (YAML syntax only);"
	echo "   the consistency checks below still run."
fi
done_step

step "render the kustomizations"
"$BIN/kustomize" build "$DEPLOY/kubernetes" >"$WORK/app.yaml"
"$BIN/kustomize" build "$DEPLOY/kubernetes/migrate" >"$WORK/migrate.yaml"
echo "   deploy/kubernetes: $(grep -c '^kind:' "$WORK/app.yaml") objects, deploy/kubernetes/migrate: $(grep -c '^kind:' "$WORK/migrate.yaml")"
done_step

kubeconform() {
	if [[ $MODE == schemas ]]; then
		"$BIN/kubeconform" -strict -summary \
			-schema-location "$WORK/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
	else
		# An empty local schema folder: every kind is "missing" and skipped,
		# so kubeconform only parses the YAML (the default location would
		# try the network).
		mkdir -p "$WORK/no-schemas"
		"$BIN/kubeconform" -strict -summary -ignore-missing-schemas \
			-schema-location "$WORK/no-schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" "$@"
	fi
}

step "kubeconform -strict ($MODE): rendered manifests and the Secret template"
kubeconform "$WORK/app.yaml" "$WORK/migrate.yaml" "$DEPLOY/kubernetes/secret.template.yaml"
done_step

step "manifest consistency (deploycheck manifests)"
"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/kubernetes/secret.template.yaml" \
	"$WORK/app.yaml" "$WORK/migrate.yaml"
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

step "negative controls: broken copies must be rejected"
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
sed 's/^  replicas: 2$/  replica: 2/' "$WORK/app.yaml" >"$WORK/bad-app.yaml"
if [[ $MODE == schemas ]]; then
	expect_fail "unknown field spec.replica (kubeconform)" "additional properties 'replica'" kubeconform "$WORK/bad-app.yaml"
fi
sed 's/terminationGracePeriodSeconds: 40/terminationGracePeriodSeconds: 20/' "$WORK/app.yaml" >"$WORK/bad-grace.yaml"
expect_fail "grace period shorter than preStop + shutdown (manifests)" "terminationGracePeriodSeconds 20" \
	"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/kubernetes/secret.template.yaml" "$WORK/bad-grace.yaml" "$WORK/migrate.yaml"
sed 's/CONVEYOR_S3_BUCKET:/CONVEYOR_S3_BUCKETS:/' "$WORK/app.yaml" >"$WORK/bad-var.yaml"
expect_fail "misspelt configuration variable (manifests)" "CONVEYOR_S3_BUCKETS is not a variable" \
	"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/kubernetes/secret.template.yaml" "$WORK/bad-var.yaml" "$WORK/migrate.yaml"
sed 's|^        path: /metrics$|        path: /metricz|' "$WORK/app.yaml" >"$WORK/bad-ingress-metrics.yaml"
expect_fail "/metrics reachable through the ingress (manifests)" "GET /metrics would reach Service/conveyor " \
	"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/kubernetes/secret.template.yaml" "$WORK/bad-ingress-metrics.yaml" "$WORK/migrate.yaml"
sed 's/^  - host: conveyor.example.com$/  - host: other.example.com/' "$WORK/app.yaml" >"$WORK/bad-ingress-host.yaml"
expect_fail "an ingress host without TLS, not CONVEYOR_PUBLIC_URL's (manifests)" 'host "other.example.com" is not covered by a tls entry' \
	"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/kubernetes/secret.template.yaml" "$WORK/bad-ingress-host.yaml" "$WORK/migrate.yaml"
sed 's|^        path: /team-manager$|        path: /team-managers|' "$WORK/app.yaml" >"$WORK/bad-ingress-route.yaml"
expect_fail "a missing route of the five (manifests)" "has no Prefix path /team-manager to the serve pods" \
	"$BIN/deploycheck" manifests -repo "$ROOT" -secret "$DEPLOY/kubernetes/secret.template.yaml" "$WORK/bad-ingress-route.yaml" "$WORK/migrate.yaml"
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
