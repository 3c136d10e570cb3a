package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"testing"

	"github.com/conveyorhq/conveyor/internal/bench"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
)

// TestMain lets the test binary be the benchmark's child processes too
// (Conveyor's API and worker, the baselines), as tools/bench is.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == bench.ChildArg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := bench.Child(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSmoke runs `make bench -smoke`'s sizes (a few seconds, tiny loads)
// so the benchmark cannot rot: every row group runs and every row has a
// figure, and the table prints. It says nothing about speed.
func TestSmoke(t *testing.T) {
	devstacktest.SkipIfShort(t)
	o := bench.Smoke()
	o.Log = logWriter{t}
	table, err := bench.Run(context.Background(), o)
	if table == nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	table.Print(&out)
	t.Logf("\n%s", out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "| measure ") {
		t.Errorf("the table has no header:\n%s", out.String())
	}
	groups := map[string]int{}
	for _, r := range table.Rows {
		if !r.HasNumber() {
			t.Errorf("row %q has no figure", r.Measure)
		}
		groups[r.Group]++
	}
	for _, g := range bench.Groups {
		if groups[g] == 0 {
			t.Errorf("row group %s printed no row", g)
		}
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
