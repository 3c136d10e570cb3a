package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// exported is what the server's Go code registers with Prometheus.
type exported struct {
	names    map[string]string // series name -> where it comes from
	prefixes []string          // go_, process_ when those collectors are registered
}

func (e exported) has(name string) bool {
	if _, ok := e.names[name]; ok {
		return true
	}
	for _, p := range e.prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

var (
	optsName = regexp.MustCompile(`(?s)prometheus\.(Counter|Gauge|Histogram|Summary)Opts\{\s*Name:\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"`)
	descName = regexp.MustCompile(`prometheus\.NewDesc\(\s*"([a-zA-Z_:][a-zA-Z0-9_:]*)"`)
)

// exportedMetrics greps the repository's non-test Go code (outside gen/,
// clients/, deploy/) for metric names: prometheus.XxxOpts{Name: "..."} and
// prometheus.NewDesc("..."). A histogram also exports _bucket, _sum and
// _count; a summary _sum and _count. Registering the Go or process
// collector allows go_* or process_* series.
func exportedMetrics(root string) (exported, error) {
	e := exported{names: map[string]string{}}
	goColl, procColl := false, false
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			switch rel {
			case "gen", "clients", "deploy", "bin", ".run", ".git", "tools":
				return filepath.SkipDir
			}
			if d.Name() == "node_modules" || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range optsName.FindAllSubmatch(src, -1) {
			kind, name := string(m[1]), string(m[2])
			e.names[name] = rel
			switch kind {
			case "Histogram":
				for _, s := range []string{"_bucket", "_sum", "_count"} {
					e.names[name+s] = rel
				}
			case "Summary":
				for _, s := range []string{"_sum", "_count"} {
					e.names[name+s] = rel
				}
			}
		}
		for _, m := range descName.FindAllSubmatch(src, -1) {
			e.names[string(m[1])] = rel
		}
		goColl = goColl || bytes.Contains(src, []byte("collectors.NewGoCollector("))
		procColl = procColl || bytes.Contains(src, []byte("collectors.NewProcessCollector("))
		return nil
	})
	if goColl {
		e.prefixes = append(e.prefixes, "go_")
	}
	if procColl {
		e.prefixes = append(e.prefixes, "process_")
	}
	if err == nil && len(e.names) == 0 {
		err = errors.New("no metric names found in the Go code")
	}
	return e, err
}

func (e exported) summary() string {
	var base []string
	for n := range e.names {
		if strings.HasSuffix(n, "_bucket") || strings.HasSuffix(n, "_sum") || strings.HasSuffix(n, "_count") {
			if _, ok := e.names[strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_sum"), "_count")]; ok {
				continue
			}
		}
		base = append(base, n)
	}
	sort.Strings(base)
	s := strings.Join(base, " ")
	if len(e.prefixes) > 0 {
		s += " (+ " + strings.Join(e.prefixes, "*, ") + "* from the Go/process collectors)"
	}
	return s
}

// configVar matches a setting's definition in internal/config/settings.go,
// where each variable is defined once: text("CONVEYOR_HTTP_ADDR", ...) or
// a literal {Name: "CONVEYOR_...", ...}.
var configVar = regexp.MustCompile(`(?:\(|Name: )"(CONVEYOR_[A-Z0-9_]+)",`)

// configVars reads the variables internal/config defines in Settings.
func configVars(root string) (map[string]bool, error) {
	src, err := os.ReadFile(filepath.Join(root, "internal", "config", "settings.go"))
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, m := range configVar.FindAllSubmatch(src, -1) {
		out[string(m[1])] = true
	}
	if len(out) == 0 {
		return nil, errors.New("no CONVEYOR_* variables found in internal/config/settings.go")
	}
	return out, nil
}

// readDocs reads every YAML document in the files.
func readDocs(files ...string) ([]map[string]any, error) {
	var out []map[string]any
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			if doc != nil {
				out = append(out, doc)
			}
		}
	}
	return out, nil
}

// at walks a decoded YAML/JSON value by keys (strings) and indexes (ints).
func at(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

func num(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}
