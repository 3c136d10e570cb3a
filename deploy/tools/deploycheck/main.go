// Command deploycheck validates deploy/ offline. It is a separate module so
// that the Prometheus packages it uses (the rule-file parser that promtool
// itself runs) never enter the server's dependency graph.
//
//	deploycheck schemas   -swagger swagger.json -out DIR
//	deploycheck crdschemas -out DIR crd.yaml...
//	deploycheck manifests -repo ROOT -secret secret.template.yaml RENDERED.yaml...
//	deploycheck rules     -repo ROOT rules.yaml
//	deploycheck dashboard -repo ROOT -rules rules.yaml dashboard.json
//	deploycheck compose   compose.yaml
//
// Every subcommand prints what it checked and exits 1 on the first class of
// failure it finds (after listing every problem of that run).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "schemas":
		err = runSchemas(os.Args[2:])
	case "crdschemas":
		err = runCRDSchemas(os.Args[2:])
	case "manifests":
		err = runManifests(os.Args[2:])
	case "rules":
		err = runRules(os.Args[2:])
	case "dashboard":
		err = runDashboard(os.Args[2:])
	case "compose":
		err = runCompose(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "deploycheck "+os.Args[1]+":", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: deploycheck schemas|crdschemas|manifests|rules|dashboard|compose [flags] [files]")
	os.Exit(2)
}

// problems collects failures so a run reports all of them at once.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	for _, s := range p {
		fmt.Fprintln(os.Stderr, "  FAIL:", s)
	}
	return fmt.Errorf("%d problem(s)", len(p))
}
