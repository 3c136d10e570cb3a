package main

import (
	"flag"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// metricNames parses a PromQL expression and returns the metric names its
// selectors use.
func metricNames(expr string) ([]string, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var out []string
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel {
				if m.Type != labels.MatchEqual {
					bad = fmt.Errorf("selector %s matches __name__ by regex; name metrics explicitly", vs)
				}
				name = m.Value
			}
		}
		if name == "" {
			bad = fmt.Errorf("selector %s has no metric name", vs)
		} else {
			out = append(out, name)
		}
		return nil
	})
	return out, bad
}

// checkNames reports names neither exported by the code nor recorded.
func checkNames(p *problems, where string, names []string, ex exported, recorded map[string]bool) {
	for _, n := range names {
		switch {
		case strings.Contains(n, ":"):
			if !recorded[n] {
				p.addf("%s: %s is not a recording rule in rules.yaml", where, n)
			}
		case !ex.has(n):
			p.addf("%s: %s is not a metric the Go code exports", where, n)
		}
	}
}

var recordName = regexp.MustCompile(`^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$`)

// loadRules parses the rule file with Prometheus' own parser (what
// `promtool check rules` runs: YAML shape, unknown fields, PromQL, label and
// annotation templates).
func loadRules(file string) (*rulefmt.RuleGroups, error) {
	groups, errs := rulefmt.ParseFile(file, false, model.LegacyValidation)
	if len(errs) > 0 {
		var p problems
		for _, e := range errs {
			p.addf("%v", e)
		}
		return nil, p.err()
	}
	return groups, nil
}

func recordedNames(g *rulefmt.RuleGroups) map[string]bool {
	out := map[string]bool{}
	for _, grp := range g.Groups {
		for _, r := range grp.Rules {
			if r.Record != "" {
				out[r.Record] = true
			}
		}
	}
	return out
}

func runRules(args []string) error {
	fs := flag.NewFlagSet("rules", flag.ExitOnError)
	root := fs.String("repo", ".", "repository root")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("want one rule file")
	}
	file := fs.Arg(0)
	groups, err := loadRules(file)
	if err != nil {
		return err
	}
	ex, err := exportedMetrics(*root)
	if err != nil {
		return err
	}
	fmt.Printf("rules: metrics exported by the Go code: %s\n", ex.summary())
	recorded := recordedNames(groups)
	var p problems
	nRec, nAlert := 0, 0
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			names, err := metricNames(r.Expr)
			if err != nil {
				p.addf("group %s rule %s%s: %v", g.Name, r.Record, r.Alert, err)
				continue
			}
			if r.Record != "" {
				nRec++
				where := "record " + r.Record
				if !recordName.MatchString(r.Record) {
					p.addf("%s: name should be level:metric:operations", where)
				}
				checkNames(&p, where, names, ex, recorded)
				continue
			}
			nAlert++
			where := "alert " + r.Alert
			if alerts[r.Alert] {
				p.addf("%s: defined twice", where)
			}
			alerts[r.Alert] = true
			checkNames(&p, where, names, ex, recorded)
			switch r.Labels["severity"] {
			case "critical", "warning", "info":
			default:
				p.addf("%s: labels.severity should be critical, warning or info", where)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				p.addf("%s: needs summary and description annotations", where)
			}
			if time.Duration(r.For) < time.Minute {
				p.addf("%s: for %s: want at least 1m to ride out a scrape blip", where, r.For)
			}
		}
	}
	var al []string
	for a := range alerts {
		al = append(al, a)
	}
	sort.Strings(al)
	fmt.Printf("rules: %d groups, %d recording rules, %d alerts parsed and checked (%s)\n", len(groups.Groups), nRec, nAlert, strings.Join(al, ", "))
	return p.err()
}
