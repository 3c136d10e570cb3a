package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// runCompose checks the compose file, since it cannot be run here. First it
// is loaded with compose-go, the loader `docker compose` itself uses
// (Compose Specification JSON schema, interpolation, anchors, consistency of
// references), with every profile enabled and an empty environment, so the
// ${VAR:-default}s are what a fresh checkout gets. Then: the services the
// topology needs exist, every depends_on, named volume and bind-mounted file
// exists, and every CONVEYOR_* variable is one internal/config knows.
func runCompose(args []string) error {
	fs := flag.NewFlagSet("compose", flag.ExitOnError)
	root := fs.String("repo", ".", "repository root")
	_ = fs.Parse(args)
	if fs.NArg() != 1 {
		return fmt.Errorf("want one compose file")
	}
	file := fs.Arg(0)
	docs, err := readDocs(file)
	if err != nil {
		return err
	}
	if len(docs) != 1 {
		return fmt.Errorf("%s: want one YAML document", file)
	}
	vars, err := configVars(*root)
	if err != nil {
		return err
	}
	doc := docs[0]
	dir := filepath.Dir(file)
	var p problems

	abs, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	project, err := loader.LoadWithContext(context.Background(), types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: types.Mapping{},
	}, func(o *loader.Options) {
		o.SetProjectName("conveyor", true)
		o.Profiles = []string{"*"}
		o.ResolvePaths = true
	})
	if err != nil {
		p.addf("compose-go (the docker compose loader): %v", err)
	} else {
		fmt.Printf("compose: loaded by compose-go as project %q: %d services, %d volumes (schema, interpolation, references valid)\n",
			project.Name, len(project.Services), len(project.Volumes))
	}
	services, _ := doc["services"].(map[string]any)
	volumes, _ := doc["volumes"].(map[string]any)
	for _, want := range []string{"postgres-primary", "postgres-replica", "pgbouncer", "redis", "s3", "conveyor-migrate", "conveyor-serve", "conveyor-worker"} {
		if _, ok := services[want]; !ok {
			p.addf("service %s is missing", want)
		}
	}
	var names []string
	for name, s := range services {
		names = append(names, name)
		if at(s, "image") == nil && at(s, "build") == nil {
			p.addf("service %s: neither image nor build", name)
		}
		deps := at(s, "depends_on")
		var depNames []string
		switch d := deps.(type) {
		case []any:
			for _, x := range d {
				depNames = append(depNames, str(x))
			}
		case map[string]any:
			for k, cond := range d {
				depNames = append(depNames, k)
				c := str(at(cond, "condition"))
				if c == "service_healthy" && at(services[k], "healthcheck") == nil {
					p.addf("service %s: waits for %s to be healthy, but %s has no healthcheck", name, k, k)
				}
			}
		}
		for _, d := range depNames {
			if _, ok := services[d]; !ok {
				p.addf("service %s: depends_on unknown service %s", name, d)
			}
		}
		for _, v := range list(at(s, "volumes")) {
			src := ""
			switch t := v.(type) {
			case string:
				src = strings.SplitN(t, ":", 2)[0]
			case map[string]any:
				src = str(t["source"])
			}
			switch {
			case src == "":
			case strings.HasPrefix(src, ".") || strings.HasPrefix(src, "/"):
				path := src
				if !filepath.IsAbs(path) {
					path = filepath.Join(dir, src)
				}
				if _, err := os.Stat(path); err != nil {
					p.addf("service %s: bind mount %s does not exist", name, src)
				}
			default:
				if _, ok := volumes[src]; !ok {
					p.addf("service %s: volume %s is not declared under volumes:", name, src)
				}
			}
		}
		env := at(s, "environment")
		var keys []string
		switch e := env.(type) {
		case map[string]any:
			for k := range e {
				keys = append(keys, k)
			}
		case []any:
			for _, x := range e {
				keys = append(keys, strings.SplitN(str(x), "=", 2)[0])
			}
		}
		for _, k := range keys {
			if strings.HasPrefix(k, "CONVEYOR_") && !vars[k] {
				p.addf("service %s: %s is not a variable in internal/config", name, k)
			}
		}
	}
	// x- extension blocks (YAML anchors) are checked through the services
	// that merge them.
	for k, v := range doc {
		if strings.HasPrefix(k, "x-") {
			if m, ok := v.(map[string]any); ok {
				for ek := range m {
					if strings.HasPrefix(ek, "CONVEYOR_") && !vars[ek] {
						p.addf("%s: %s is not a variable in internal/config", k, ek)
					}
				}
			}
		}
	}
	sort.Strings(names)
	fmt.Printf("compose: %d services (%s), structure checked (not run: no container engine here)\n", len(names), strings.Join(names, ", "))
	return p.err()
}
