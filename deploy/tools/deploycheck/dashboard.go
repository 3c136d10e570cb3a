package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Grafana variables are replaced by values that keep the query valid PromQL.
var grafanaVar = regexp.MustCompile(`\$\{?(__rate_interval|__interval|__range|[a-zA-Z_][a-zA-Z0-9_]*)(:[a-z]+)?\}?`)

func substitute(expr string) string {
	return grafanaVar.ReplaceAllStringFunc(expr, func(v string) string {
		m := grafanaVar.FindStringSubmatch(v)
		switch m[1] {
		case "__rate_interval", "__interval", "__range":
			return "5m"
		}
		return ".*"
	})
}

var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)$`)

func runDashboard(args []string) error {
	fs := flag.NewFlagSet("dashboard", flag.ExitOnError)
	root := fs.String("repo", ".", "repository root")
	rulesFile := fs.String("rules", "", "rules.yaml (recording rules a query may use)")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("want one dashboard file")
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	var dash map[string]any
	if err := json.Unmarshal(raw, &dash); err != nil {
		return fmt.Errorf("%s: not JSON: %w", fs.Arg(0), err)
	}
	ex, err := exportedMetrics(*root)
	if err != nil {
		return err
	}
	recorded := map[string]bool{}
	if *rulesFile != "" {
		g, err := loadRules(*rulesFile)
		if err != nil {
			return err
		}
		recorded = recordedNames(g)
	}
	var p problems
	for _, k := range []string{"title", "uid"} {
		if str(dash[k]) == "" {
			p.addf("dashboard: no %s", k)
		}
	}
	if _, ok := num(dash["schemaVersion"]); !ok {
		p.addf("dashboard: no schemaVersion")
	}

	// Template variables: the datasource one and label_values queries.
	vars := map[string]bool{}
	for _, v := range list(at(dash, "templating", "list")) {
		name := str(at(v, "name"))
		vars[name] = true
		if str(at(v, "type")) != "query" {
			continue
		}
		q := str(at(v, "query"))
		if q == "" {
			q = str(at(v, "query", "query"))
		}
		m := labelValues.FindStringSubmatch(strings.TrimSpace(q))
		if m == nil {
			p.addf("variable %s: query %q is not label_values(metric, label)", name, q)
			continue
		}
		checkNames(&p, "variable "+name, []string{m[1]}, ex, recorded)
	}

	ids := map[int]bool{}
	panels, queries := 0, 0
	var walkPanels func([]any)
	walkPanels = func(ps []any) {
		for _, pn := range ps {
			title := str(at(pn, "title"))
			if nested := list(at(pn, "panels")); len(nested) > 0 {
				walkPanels(nested)
			}
			if str(at(pn, "type")) == "row" {
				continue
			}
			panels++
			id, ok := num(at(pn, "id"))
			if !ok || ids[id] {
				p.addf("panel %q: missing or duplicate id", title)
			}
			ids[id] = true
			if at(pn, "gridPos") == nil {
				p.addf("panel %q: no gridPos", title)
			}
			ds := str(at(pn, "datasource", "uid"))
			if ds != "${datasource}" {
				p.addf("panel %q: datasource uid %q, want ${datasource}", title, ds)
			}
			targets := list(at(pn, "targets"))
			if len(targets) == 0 {
				p.addf("panel %q: no queries", title)
			}
			for i, t := range targets {
				expr := str(at(t, "expr"))
				where := fmt.Sprintf("panel %q query %d", title, i)
				if expr == "" {
					p.addf("%s: no expr", where)
					continue
				}
				for _, m := range grafanaVar.FindAllStringSubmatch(expr, -1) {
					if !strings.HasPrefix(m[1], "__") && !vars[m[1]] {
						p.addf("%s: uses $%s, which is not a dashboard variable", where, m[1])
					}
				}
				queries++
				names, err := metricNames(substitute(expr))
				if err != nil {
					p.addf("%s: %v\n        %s", where, err, expr)
					continue
				}
				checkNames(&p, where, names, ex, recorded)
			}
		}
	}
	walkPanels(list(dash["panels"]))
	fmt.Printf("dashboard: %q: %d panels, %d queries parsed as PromQL, every metric checked against the Go code and rules.yaml\n", str(dash["title"]), panels, queries)
	return p.err()
}
