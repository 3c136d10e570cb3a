package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

const imageRepo = "ghcr.io/conveyorhq/conveyor"

// runManifests checks what kubeconform cannot: that the chart's rendered
// objects agree with each other and with the program (configuration
// variables, Secret keys, ports, probes, shutdown timing, selectors,
// autoscaling, network policy, the migration hook, monitoring).
func runManifests(args []string) error {
	fs := flag.NewFlagSet("manifests", flag.ExitOnError)
	root := fs.String("repo", ".", "repository root")
	secretFile := fs.String("secret", "", "the Secret template (the existing Secret's keys)")
	rules := fs.String("rules", "", "the rule file a PrometheusRule must carry")
	dashboard := fs.String("dashboard", "", "the dashboard a grafana_dashboard ConfigMap must carry")
	_ = fs.Parse(args)
	if *rules != "" {
		g, err := loadRules(*rules)
		if err != nil {
			return err
		}
		rulesFile = g
	}
	if *dashboard != "" {
		raw, err := os.ReadFile(*dashboard)
		if err != nil {
			return err
		}
		var d map[string]any
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("%s: %w", *dashboard, err)
		}
		dashboardUID = str(d["uid"])
	}
	if *secretFile == "" || fs.NArg() == 0 {
		return fmt.Errorf("-secret and at least one rendered manifest file are required")
	}
	vars, err := configVars(*root)
	if err != nil {
		return err
	}
	docs, err := readDocs(fs.Args()...)
	if err != nil {
		return err
	}
	secretDocs, err := readDocs(*secretFile)
	if err != nil {
		return err
	}
	var p problems

	// The Secret template: keys only, no values, every key a real variable.
	secretKeys := map[string]bool{}
	secretName := ""
	if len(secretDocs) != 1 || str(at(secretDocs[0], "kind")) != "Secret" {
		p.addf("%s: want exactly one Secret", *secretFile)
	} else {
		s := secretDocs[0]
		secretName = str(at(s, "metadata", "name"))
		if at(s, "data") != nil {
			p.addf("Secret template: has a data field; list keys under stringData with empty values")
		}
		sd, _ := at(s, "stringData").(map[string]any)
		for k, v := range sd {
			secretKeys[k] = true
			if str(v) != "" {
				p.addf("Secret template: key %s carries a value; the template must hold none", k)
			}
			if strings.HasPrefix(k, "CONVEYOR_") && !vars[k] {
				p.addf("Secret template: %s is not a variable in internal/config", k)
			}
		}
		if len(sd) == 0 {
			p.addf("Secret template: no keys under stringData")
		}
	}

	byKind := map[string][]map[string]any{}
	configMaps := map[string]map[string]any{}
	for _, d := range docs {
		kind, name := str(at(d, "kind")), str(at(d, "metadata", "name"))
		byKind[kind] = append(byKind[kind], d)
		if str(at(d, "metadata", "namespace")) == "" {
			p.addf("%s/%s: no namespace after rendering", kind, name)
		}
		if kind == "Secret" {
			p.addf("Secret/%s is rendered by the chart: keep real credentials out of it (the chart reads an existing Secret)", name)
		}
		if kind == "ConfigMap" {
			data, _ := at(d, "data").(map[string]any)
			configMaps[name] = data
			for k := range data {
				if strings.HasPrefix(k, "CONVEYOR_") && !vars[k] {
					p.addf("ConfigMap/%s: %s is not a variable in internal/config (typo?)", name, k)
				}
				if secretKeys[k] {
					p.addf("ConfigMap/%s: %s is a Secret key; keep it out of the ConfigMap", name, k)
				}
			}
		}
	}

	// The configuration the pods see (ConfigMap values, defaults otherwise).
	cfg := map[string]string{}
	for _, data := range configMaps {
		for k, v := range data {
			cfg[k] = str(v)
		}
	}
	shutdown := 20 * time.Second
	if v := cfg["CONVEYOR_SHUTDOWN_TIMEOUT"]; v != "" {
		if shutdown, err = time.ParseDuration(v); err != nil {
			p.addf("CONVEYOR_SHUTDOWN_TIMEOUT %q: %v", v, err)
		}
	}
	httpPort := 8080
	if v := cfg["CONVEYOR_HTTP_ADDR"]; v != "" {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			p.addf("CONVEYOR_HTTP_ADDR %q: %v", v, err)
		} else {
			httpPort, _ = strconv.Atoi(port)
			if host == "127.0.0.1" || host == "localhost" {
				p.addf("CONVEYOR_HTTP_ADDR %q listens on loopback: probes and the Service cannot reach it", v)
			}
		}
	} else {
		p.addf("CONVEYOR_HTTP_ADDR is not set: the default 127.0.0.1:8080 is unreachable from outside the pod")
	}
	// serve's internal listener (/metrics, /debug/pprof/): scraped from
	// outside the pod, so never on loopback where the chart opens its port.
	internalPort, internalHost := 6060, "127.0.0.1"
	if v := cfg["CONVEYOR_INTERNAL_ADDR"]; v != "" {
		host, port, err := net.SplitHostPort(v)
		if err != nil {
			p.addf("CONVEYOR_INTERNAL_ADDR %q: %v", v, err)
		} else {
			internalPort, _ = strconv.Atoi(port)
			internalHost = host
		}
	}
	const margin = 5 // seconds the grace period must exceed the sum of the waits by, at least

	seen := map[string]bool{}
	runs := map[string]string{}              // Deployment name -> serve or worker
	scalers := collectScalers(byKind)        // Deployment name -> min replicas of its autoscaler
	podLabels := map[string]map[string]any{} // Deployment name -> pod labels
	servePorts := map[string]int{}
	for _, kind := range []string{"Deployment", "Job"} {
		for _, d := range byKind[kind] {
			name := str(at(d, "metadata", "name"))
			spec := at(d, "spec", "template", "spec")
			what := kind + "/" + name
			labels, _ := at(d, "spec", "template", "metadata", "labels").(map[string]any)
			if kind == "Deployment" {
				podLabels[name] = labels
				sel, _ := at(d, "spec", "selector", "matchLabels").(map[string]any)
				if !subset(sel, labels) {
					p.addf("%s: selector %v does not match the pod labels %v", what, sel, labels)
				}
			}
			if at(spec, "securityContext", "runAsNonRoot") != true {
				p.addf("%s: pod securityContext.runAsNonRoot is not true", what)
			}
			if at(spec, "automountServiceAccountToken") != false {
				p.addf("%s: automountServiceAccountToken should be false (conveyor does not call the Kubernetes API)", what)
			}
			grace, hasGrace := num(at(spec, "terminationGracePeriodSeconds"))
			for _, c := range list(at(spec, "containers")) {
				cname := str(at(c, "name"))
				cw := what + " container " + cname
				image := str(at(c, "image"))
				if cname == "pgbouncer" {
					checkPgBouncer(&p, cw, c)
					continue
				}
				if !strings.HasPrefix(image, imageRepo+":") && !strings.HasPrefix(image, imageRepo+"@") {
					p.addf("%s: image %q is not %s:<tag>", cw, image, imageRepo)
				}
				sc := at(c, "securityContext")
				if at(sc, "readOnlyRootFilesystem") != true || at(sc, "allowPrivilegeEscalation") != false {
					p.addf("%s: want readOnlyRootFilesystem: true and allowPrivilegeEscalation: false", cw)
				}
				if str(at(c, "resources", "requests", "memory")) == "" || str(at(c, "resources", "limits", "memory")) == "" || str(at(c, "resources", "requests", "cpu")) == "" {
					p.addf("%s: set resources.requests.cpu/memory and resources.limits.memory", cw)
				}
				for _, ef := range list(at(c, "envFrom")) {
					if n := str(at(ef, "configMapRef", "name")); n != "" {
						if _, ok := configMaps[n]; !ok {
							p.addf("%s: envFrom ConfigMap %q is not in the rendered manifests", cw, n)
						}
					}
					if at(ef, "secretRef") != nil {
						p.addf("%s: use secretKeyRef per key (so keys are checked) rather than envFrom secretRef", cw)
					}
				}
				for _, e := range list(at(c, "env")) {
					en := str(at(e, "name"))
					if strings.HasPrefix(en, "CONVEYOR_") && !vars[en] {
						p.addf("%s: env %s is not a variable in internal/config", cw, en)
					}
					if ref := at(e, "valueFrom", "secretKeyRef"); ref != nil {
						if str(at(ref, "name")) != secretName {
							p.addf("%s: env %s reads Secret %q, the template is %q", cw, en, str(at(ref, "name")), secretName)
						}
						if k := str(at(ref, "key")); !secretKeys[k] {
							p.addf("%s: env %s reads key %q, not in the Secret template", cw, en, k)
						}
					}
					if ref := at(e, "valueFrom", "configMapKeyRef"); ref != nil {
						if _, ok := configMaps[str(at(ref, "name"))]; !ok {
							p.addf("%s: env %s reads ConfigMap %q, not rendered", cw, en, str(at(ref, "name")))
						}
					}
				}
				args := list(at(c, "args"))
				sub := ""
				if len(args) > 0 {
					sub = str(args[0])
				}
				seen[sub] = true
				if sub == "serve" || sub == "worker" {
					runs[name] = sub
				}
				switch sub {
				case "serve":
					// /healthz, not /readyz: /readyz reports shared dependencies,
					// and gating on it would take every pod out at once.
					if str(at(c, "readinessProbe", "httpGet", "path")) != "/healthz" {
						p.addf("%s: readinessProbe should GET /healthz (see deploy/README.md)", cw)
					}
					if str(at(c, "livenessProbe", "httpGet", "path")) != "/healthz" {
						p.addf("%s: livenessProbe should GET /healthz", cw)
					}
					for _, port := range list(at(c, "ports")) {
						n, _ := num(at(port, "containerPort"))
						servePorts[str(at(port, "name"))] = n
						switch {
						case n == httpPort:
						case n == internalPort:
							if internalHost == "127.0.0.1" || internalHost == "localhost" {
								p.addf("%s: containerPort %d but CONVEYOR_INTERNAL_ADDR listens on loopback: Prometheus cannot scrape it", cw, n)
							}
						default:
							p.addf("%s: containerPort %d but CONVEYOR_HTTP_ADDR listens on %d and CONVEYOR_INTERNAL_ADDR on %d", cw, n, httpPort, internalPort)
						}
					}
					ann, _ := at(d, "spec", "template", "metadata", "annotations").(map[string]any)
					if len(byKind["ServiceMonitor"]) == 0 && (str(ann["prometheus.io/scrape"]) != "true" || str(ann["prometheus.io/path"]) != "/metrics" || str(ann["prometheus.io/port"]) != strconv.Itoa(internalPort)) {
						p.addf("%s: prometheus.io/scrape, /path, /port annotations should point at /metrics on the internal port %d (or a ServiceMonitor should scrape it)", what, internalPort)
					}
					sleep, ok := num(at(c, "lifecycle", "preStop", "sleep", "seconds"))
					if !ok {
						p.addf("%s: no preStop sleep (endpoints would not drain before SIGTERM)", cw)
					}
					need := sleep + int(shutdown.Seconds()) + margin
					if !hasGrace || grace < need {
						p.addf("%s: terminationGracePeriodSeconds %d < preStop %ds + CONVEYOR_SHUTDOWN_TIMEOUT %s + %ds margin", what, grace, sleep, shutdown, margin)
					}
					checkReplicas(&p, d, scalers)
				case "worker":
					need := int(shutdown.Seconds()) + margin
					if !hasGrace || grace < need {
						p.addf("%s: terminationGracePeriodSeconds %d < CONVEYOR_SHUTDOWN_TIMEOUT %s + %ds margin", what, grace, shutdown, margin)
					}
					checkReplicas(&p, d, scalers)
				case "migrate":
					if kind != "Job" || len(args) < 2 || str(args[1]) != "up" {
						p.addf("%s: migrate should run as a Job with args [migrate, up]", cw)
					}
					if rp := str(at(spec, "restartPolicy")); rp != "Never" && rp != "OnFailure" {
						p.addf("%s: restartPolicy %q", what, rp)
					}
					hooks := str(at(d, "metadata", "annotations", "helm.sh/hook"))
					if !strings.Contains(hooks, "pre-install") || !strings.Contains(hooks, "pre-upgrade") {
						p.addf("%s: helm.sh/hook %q, want pre-install,pre-upgrade (migrate before the pods roll)", what, hooks)
					}
					for _, ef := range list(at(c, "envFrom")) {
						if at(ef, "configMapRef") != nil {
							p.addf("%s: envFrom a ConfigMap: a pre-install hook runs before the release's ConfigMap exists", cw)
						}
					}
				default:
					p.addf("%s: args %v: want serve, worker or migrate", cw, args)
				}
			}
		}
	}
	for _, s := range []string{"serve", "worker", "migrate"} {
		if !seen[s] {
			p.addf("no container runs `conveyor %s`", s)
		}
	}
	services, sinks, toServe := map[string]map[string]any{}, map[string]bool{}, map[string]bool{}
	for _, svc := range byKind["Service"] {
		sel, _ := at(svc, "spec", "selector").(map[string]any)
		name := str(at(svc, "metadata", "name"))
		services[name] = svc
		if len(sel) == 0 {
			// A sink for paths that must not leave the cluster: no selector,
			// and nothing may give it endpoints.
			sinks[name] = true
			for _, kind := range []string{"Endpoints", "EndpointSlice"} {
				for _, d := range byKind[kind] {
					if str(at(d, "metadata", "name")) == name || str(at(d, "metadata", "labels", "kubernetes.io/service-name")) == name {
						p.addf("%s/%s gives the selector-less Service/%s endpoints", kind, str(at(d, "metadata", "name")), name)
					}
				}
			}
			continue
		}
		target := ""
		for dep, l := range podLabels {
			if subset(sel, l) {
				target = dep
			}
		}
		if target == "" {
			p.addf("Service/%s: selector %v selects no Deployment's pods", name, sel)
			continue
		}
		toServe[name] = runs[target] == "serve"
		if runs[target] != "serve" {
			continue // the worker's metrics, PgBouncer: by port name below
		}
		for _, port := range list(at(svc, "spec", "ports")) {
			switch tp := at(port, "targetPort").(type) {
			case string:
				if _, ok := servePorts[tp]; !ok {
					p.addf("Service/%s: targetPort %q is not a named serve container port", str(at(svc, "metadata", "name")), tp)
				}
			default:
				if n, _ := num(tp); n != httpPort && n != internalPort {
					p.addf("Service/%s: targetPort %v is not %d", str(at(svc, "metadata", "name")), tp, httpPort)
				}
			}
		}
	}
	checkIngress(&p, byKind["Ingress"], services, sinks, toServe, cfg["CONVEYOR_PUBLIC_URL"])
	checkScalers(&p, byKind, runs, *root)
	checkNetworkPolicies(&p, byKind)
	checkMonitoring(&p, byKind, services)
	for _, pdb := range byKind["PodDisruptionBudget"] {
		sel, _ := at(pdb, "spec", "selector", "matchLabels").(map[string]any)
		hit := false
		for _, l := range podLabels {
			hit = hit || subset(sel, l)
		}
		if !hit {
			p.addf("PodDisruptionBudget/%s: selector %v matches no Deployment's pods", str(at(pdb, "metadata", "name")), sel)
		}
	}
	for dep, l := range podLabels {
		covered := false
		for _, pdb := range byKind["PodDisruptionBudget"] {
			sel, _ := at(pdb, "spec", "selector", "matchLabels").(map[string]any)
			covered = covered || subset(sel, l)
		}
		if !covered {
			p.addf("Deployment/%s: no PodDisruptionBudget covers its pods", dep)
		}
	}
	var kinds []string
	for k, l := range byKind {
		kinds = append(kinds, fmt.Sprintf("%s x%d", k, len(l)))
	}
	sort.Strings(kinds)
	fmt.Printf("manifests: %d objects (%s); Secret template keys %d; %d config variables known; shutdown %s, http port %d\n",
		len(docs), strings.Join(kinds, ", "), len(secretKeys), len(vars), shutdown, httpPort)
	return p.err()
}

func subset(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}
