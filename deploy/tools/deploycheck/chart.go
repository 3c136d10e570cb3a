package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"go.yaml.in/yaml/v3"
)

// The chart's checks beyond the plain manifests': PgBouncer pods,
// autoscalers, network policy and the monitoring objects.

func checkPgBouncer(p *problems, cw string, c any) {
	if str(at(c, "image")) == "" {
		p.addf("%s: no image", cw)
	}
	sc := at(c, "securityContext")
	if at(sc, "readOnlyRootFilesystem") != true || at(sc, "allowPrivilegeEscalation") != false {
		p.addf("%s: want readOnlyRootFilesystem: true and allowPrivilegeEscalation: false", cw)
	}
	if str(at(c, "resources", "requests", "memory")) == "" || str(at(c, "resources", "limits", "memory")) == "" {
		p.addf("%s: set resources.requests.memory and resources.limits.memory", cw)
	}
	if at(c, "readinessProbe") == nil {
		p.addf("%s: no readinessProbe", cw)
	}
}

// collectScalers maps each Deployment an HPA or a KEDA ScaledObject scales
// to the smallest replica count it allows.
func collectScalers(byKind map[string][]map[string]any) map[string]int {
	out := map[string]int{}
	for _, h := range byKind["HorizontalPodAutoscaler"] {
		n, ok := num(at(h, "spec", "minReplicas"))
		if !ok {
			n = 1
		}
		out[str(at(h, "spec", "scaleTargetRef", "name"))] = n
	}
	for _, s := range byKind["ScaledObject"] {
		n, _ := num(at(s, "spec", "minReplicaCount")) // KEDA's default is 0
		out[str(at(s, "spec", "scaleTargetRef", "name"))] = n
	}
	return out
}

// checkReplicas: at least 2 pods, from spec.replicas or from the
// autoscaler, never both (an upgrade would reset the scaled count).
func checkReplicas(p *problems, d map[string]any, scalers map[string]int) {
	name := str(at(d, "metadata", "name"))
	replicas, set := num(at(d, "spec", "replicas"))
	if len(list(at(d, "spec", "template", "spec", "topologySpreadConstraints"))) == 0 {
		p.addf("Deployment/%s: no topologySpreadConstraints", name)
	}
	if min, scaled := scalers[name]; scaled {
		if set {
			p.addf("Deployment/%s: spec.replicas %d is set while an autoscaler owns the count (every upgrade would reset it)", name, replicas)
		}
		if min < 2 {
			p.addf("Deployment/%s: its autoscaler allows %d replicas, want at least 2", name, min)
		}
		return
	}
	if replicas < 2 {
		p.addf("Deployment/%s: replicas %d, want at least 2", name, replicas)
	}
}

var queueConst = regexp.MustCompile(`Queue[A-Z][a-zA-Z]*\s*=\s*"([a-z0-9_-]+)"`)
var asynqList = regexp.MustCompile(`^asynq:\{([a-z0-9_-]+)\}:(pending|active)$`)

// queueNames reads the asynq queue names internal/queue declares.
func queueNames(root string) ([]string, error) {
	src, err := os.ReadFile(filepath.Join(root, "internal", "queue", "queue.go"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range queueConst.FindAllSubmatch(src, -1) {
		out = append(out, string(m[1]))
	}
	sort.Strings(out)
	return out, nil
}

// checkScalers: serve's HPA scales the serve Deployment on CPU; the
// ScaledObject scales the workers, keeps at least one (the outbox relay runs
// there), and counts the waiting and running tasks of every queue
// internal/queue declares (redis lists summed by a formula) or reads them
// from an exported gauge (prometheus).
func checkScalers(p *problems, byKind map[string][]map[string]any, runs map[string]string, root string) {
	targets := map[string]int{}
	for _, h := range byKind["HorizontalPodAutoscaler"] {
		what := "HorizontalPodAutoscaler/" + str(at(h, "metadata", "name"))
		t := str(at(h, "spec", "scaleTargetRef", "name"))
		targets[t]++
		if runs[t] != "serve" {
			p.addf("%s: scales %q, not the serve Deployment", what, t)
		}
		cpu := false
		for _, m := range list(at(h, "spec", "metrics")) {
			cpu = cpu || (str(at(m, "type")) == "Resource" && str(at(m, "resource", "name")) == "cpu")
		}
		if !cpu {
			p.addf("%s: does not scale on CPU", what)
		}
	}
	for _, s := range byKind["ScaledObject"] {
		what := "ScaledObject/" + str(at(s, "metadata", "name"))
		t := str(at(s, "spec", "scaleTargetRef", "name"))
		targets[t]++
		if runs[t] != "worker" {
			p.addf("%s: scales %q, not the worker Deployment", what, t)
		}
		if n, _ := num(at(s, "spec", "minReplicaCount")); n < 1 {
			p.addf("%s: minReplicaCount %d: the workers run the outbox relay, at zero nothing would ever be pending", what, n)
		}
		queues, err := queueNames(root)
		if err != nil {
			p.addf("%s: %v", what, err)
			continue
		}
		watched := map[string]bool{} // "pending high", "active high", ...
		var names []string
		redis := false
		for i, tr := range list(at(s, "spec", "triggers")) {
			switch str(at(tr, "type")) {
			case "redis":
				redis = true
				m := asynqList.FindStringSubmatch(str(at(tr, "metadata", "listName")))
				if m == nil {
					p.addf("%s: trigger %d: listName %q is not asynq:{QUEUE}:pending or :active", what, i, str(at(tr, "metadata", "listName")))
					continue
				}
				watched[m[2]+" "+m[1]] = true
				names = append(names, str(at(tr, "name")))
			case "prometheus":
				ex, err := exportedMetrics(root)
				if err != nil {
					p.addf("%s: %v", what, err)
					continue
				}
				q := str(at(tr, "metadata", "query"))
				metrics, err := metricNames(q)
				if err != nil {
					p.addf("%s: trigger %d: %v", what, i, err)
				}
				checkNames(p, what+" trigger", metrics, ex, map[string]bool{})
				if !strings.Contains(q, "pending") || !strings.Contains(q, "active") {
					p.addf("%s: trigger %d: query %q should count pending and active tasks", what, i, q)
				}
			default:
				p.addf("%s: trigger %d: type %q, want redis or prometheus", what, i, str(at(tr, "type")))
			}
		}
		if redis {
			for _, q := range queues {
				for _, state := range []string{"pending", "active"} {
					if !watched[state+" "+q] {
						p.addf("%s: queue %q (internal/queue) has no trigger on its %s list: the workers' load would be undercounted", what, q, state)
					}
				}
			}
			for w := range watched {
				if q := strings.Fields(w)[1]; !contains(queues, q) {
					p.addf("%s: watches queue %q, which internal/queue does not declare", what, q)
				}
			}
			// KEDA takes the largest of several triggers; only a formula adds them up.
			formula := str(at(s, "spec", "advanced", "scalingModifiers", "formula"))
			terms := strings.Split(strings.ReplaceAll(formula, " ", ""), "+")
			sort.Strings(terms)
			sort.Strings(names)
			if strings.Join(terms, "+") != strings.Join(names, "+") {
				p.addf("%s: advanced.scalingModifiers.formula %q is not the sum of its redis triggers (%s)", what, formula, strings.Join(names, ", "))
			}
		}
	}
	for t, n := range targets {
		if n > 1 {
			p.addf("Deployment/%s: %d autoscalers target it", t, n)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// selects reports whether a LabelSelector (matchLabels, matchExpressions
// In/Exists) selects the labels; an empty selector selects everything.
func selects(sel any, labels map[string]any) bool {
	ml, _ := at(sel, "matchLabels").(map[string]any)
	for k, v := range ml {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range list(at(sel, "matchExpressions")) {
		v, has := labels[str(at(e, "key"))]
		switch str(at(e, "operator")) {
		case "In":
			ok := false
			for _, x := range list(at(e, "values")) {
				ok = ok || (has && x == v)
			}
			if !ok {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

type pods struct {
	what   string
	labels map[string]any
}

// checkNetworkPolicies: a default deny covers every pod of the release,
// no rule is open to every peer, every pod resolves DNS, serve accepts
// only its port, and each component reaches its own PgBouncer pool only.
func checkNetworkPolicies(p *problems, byKind map[string][]map[string]any) {
	nps := byKind["NetworkPolicy"]
	if len(nps) == 0 {
		p.addf("no NetworkPolicy")
		return
	}
	var all []pods
	byComponent := map[string]map[string]any{}
	for _, kind := range []string{"Deployment", "Job"} {
		for _, d := range byKind[kind] {
			l, _ := at(d, "spec", "template", "metadata", "labels").(map[string]any)
			all = append(all, pods{kind + "/" + str(at(d, "metadata", "name")), l})
			byComponent[str(l["app.kubernetes.io/component"])] = l
		}
	}
	for _, np := range nps {
		what := "NetworkPolicy/" + str(at(np, "metadata", "name"))
		for _, r := range list(at(np, "spec", "ingress")) {
			if len(list(at(r, "from"))) == 0 {
				p.addf("%s: an ingress rule without from admits every source", what)
			}
		}
		for _, r := range list(at(np, "spec", "egress")) {
			if len(list(at(r, "to"))) == 0 {
				p.addf("%s: an egress rule without to reaches every destination", what)
			}
		}
	}
	for _, pd := range all {
		denied, dns := false, false
		var egressPeers []any
		for _, np := range nps {
			if !selects(at(np, "spec", "podSelector"), pd.labels) {
				continue
			}
			types := list(at(np, "spec", "policyTypes"))
			if len(types) == 2 && at(np, "spec", "ingress") == nil && at(np, "spec", "egress") == nil {
				denied = true
			}
			for _, r := range list(at(np, "spec", "egress")) {
				for _, port := range list(at(r, "ports")) {
					n, _ := num(at(port, "port"))
					dns = dns || n == 53
				}
				egressPeers = append(egressPeers, list(at(r, "to"))...)
			}
		}
		if !denied {
			p.addf("%s: no default-deny NetworkPolicy (both policyTypes, no rules) selects its pods", pd.what)
		}
		if !dns {
			p.addf("%s: no egress to DNS (port 53)", pd.what)
		}
		comp := str(pd.labels["app.kubernetes.io/component"])
		for pool, user := range map[string]string{"pgbouncer-api": "serve", "pgbouncer-worker": "worker"} {
			target, ok := byComponent[pool]
			if !ok || (comp != "serve" && comp != "worker") {
				continue
			}
			reach := false
			for _, peer := range egressPeers {
				if ps := at(peer, "podSelector"); ps != nil && at(peer, "namespaceSelector") == nil && selects(ps, target) {
					reach = true
				}
			}
			if comp == user && !reach {
				p.addf("%s: no egress to its PgBouncer pool (%s)", pd.what, pool)
			}
			if comp != user && reach {
				p.addf("%s: egress to the other component's PgBouncer pool (%s): the pools keep the API and the workers apart", pd.what, pool)
			}
		}
	}
}

// checkMonitoring: the ServiceMonitor's ports exist on the Services it
// selects and cover serve and the workers; the PrometheusRule carries
// deploy/prometheus/rules.yaml whole and parses as a rule file; the
// dashboard ConfigMap carries deploy/grafana/conveyor.json with the
// sidecar's label.
func checkMonitoring(p *problems, byKind map[string][]map[string]any, services map[string]map[string]any) {
	for _, sm := range byKind["ServiceMonitor"] {
		what := "ServiceMonitor/" + str(at(sm, "metadata", "name"))
		covered := map[string]bool{}
		for _, ep := range list(at(sm, "spec", "endpoints")) {
			port := str(at(ep, "port"))
			hit := false
			for _, svc := range services {
				l, _ := at(svc, "metadata", "labels").(map[string]any)
				if !selects(at(sm, "spec", "selector"), l) {
					continue
				}
				for _, sp := range list(at(svc, "spec", "ports")) {
					if str(at(sp, "name")) == port {
						hit = true
						covered[str(l["app.kubernetes.io/component"])] = true
					}
				}
			}
			if !hit {
				p.addf("%s: endpoint port %q is on no Service it selects", what, port)
			}
		}
		for _, c := range []string{"serve", "worker"} {
			if !covered[c] {
				p.addf("%s: does not scrape %s", what, c)
			}
		}
	}
	for _, pr := range byKind["PrometheusRule"] {
		what := "PrometheusRule/" + str(at(pr, "metadata", "name"))
		b, err := yaml.Marshal(map[string]any{"groups": at(pr, "spec", "groups")})
		if err != nil {
			p.addf("%s: %v", what, err)
			continue
		}
		g, errs := rulefmt.Parse(b, false, model.LegacyValidation)
		for _, e := range errs {
			p.addf("%s: %v", what, e)
		}
		if len(errs) == 0 && (g == nil || len(g.Groups) == 0) {
			p.addf("%s: no rule groups", what)
		}
		if len(errs) == 0 && g != nil && rulesFile != nil && !sameRules(g, rulesFile) {
			p.addf("%s: its groups differ from deploy/prometheus/rules.yaml", what)
		}
	}
	for _, cm := range byKind["ConfigMap"] {
		l, _ := at(cm, "metadata", "labels").(map[string]any)
		if _, ok := l["grafana_dashboard"]; !ok {
			continue
		}
		what := "ConfigMap/" + str(at(cm, "metadata", "name"))
		data, _ := at(cm, "data").(map[string]any)
		if len(data) != 1 {
			p.addf("%s: want one dashboard", what)
		}
		for k, v := range data {
			var dash map[string]any
			if err := json.Unmarshal([]byte(str(v)), &dash); err != nil {
				p.addf("%s: %s is not JSON: %v", what, k, err)
				continue
			}
			if dashboardUID != "" && str(dash["uid"]) != dashboardUID {
				p.addf("%s: %s has uid %q, deploy/grafana/conveyor.json %q", what, k, str(dash["uid"]), dashboardUID)
			}
		}
	}
}

// The rule file and the dashboard the chart must carry (set by runManifests).
var (
	rulesFile    *rulefmt.RuleGroups
	dashboardUID string
)

func sameRules(a, b *rulefmt.RuleGroups) bool {
	if len(a.Groups) != len(b.Groups) {
		return false
	}
	for i := range a.Groups {
		ga, gb := a.Groups[i], b.Groups[i]
		if ga.Name != gb.Name || len(ga.Rules) != len(gb.Rules) {
			return false
		}
		for j := range ga.Rules {
			ra, rb := ga.Rules[j], gb.Rules[j]
			if ra.Record != rb.Record || ra.Alert != rb.Alert || strings.TrimSpace(ra.Expr) != strings.TrimSpace(rb.Expr) {
				return false
			}
		}
	}
	return true
}
