// Command bench is `make bench`: it starts the real stack and Conveyor,
// measures each row next to its baseline in the same run, and prints one
// table (see internal/bench and README.md, "Benchmarks").
//
//	go run ./tools/bench [-smoke] [-duration 10s] [-conns 16] [-job-conns 8,32]
//	    [-e2e-jobs 2000] [-upload-mib 1024] [-subscribers 1000] [-sse-jobs 20]
//	    [-scale-rows 10000,100000,1000000] [-only read,jobs,upload,sse,scale] [-keep]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/conveyorhq/conveyor/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == bench.ChildArg {
		if err := bench.Child(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	smoke := fs.Bool("smoke", false, "a few seconds at tiny sizes: checks that every row produces a figure, not speed")
	d := bench.Defaults()
	duration := fs.Duration("duration", d.Duration, "length of each load phase")
	conns := fs.Int("conns", d.Conns, "connections for the read row")
	jobConns := fs.String("job-conns", joinInts(d.JobConns), "connections for POST /jobs, comma-separated")
	e2e := fs.Int("e2e-jobs", d.E2EJobs, "jobs submitted for end-to-end jobs/s")
	upload := fs.Int64("upload-mib", d.UploadBytes>>20, "size of the streamed upload, MiB")
	subs := fs.Int("subscribers", d.Subscribers, "SSE subscribers on one team")
	sseJobs := fs.Int("sse-jobs", d.SSEJobs, "jobs whose events the SSE row times")
	scale := fs.String("scale-rows", joinInts(d.ScaleRows), "rows in one team for the scaling curve, ascending, comma-separated")
	only := fs.String("only", "", "row groups to run, comma-separated ("+strings.Join(bench.Groups, ",")+"); empty: all")
	keep := fs.Bool("keep", false, "keep the stack's folder (logs) after the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o := d
	if *smoke {
		o = bench.Smoke()
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	if set["duration"] || !*smoke {
		o.Duration = *duration
	}
	if set["conns"] || !*smoke {
		o.Conns = *conns
	}
	if set["job-conns"] || !*smoke {
		if o.JobConns, err = parseInts(*jobConns); err != nil {
			return fmt.Errorf("-job-conns: %w", err)
		}
	}
	if set["e2e-jobs"] || !*smoke {
		o.E2EJobs = *e2e
	}
	if set["upload-mib"] || !*smoke {
		o.UploadBytes = *upload << 20
	}
	if set["subscribers"] || !*smoke {
		o.Subscribers = *subs
	}
	if set["sse-jobs"] || !*smoke {
		o.SSEJobs = *sseJobs
	}
	if set["scale-rows"] || !*smoke {
		if o.ScaleRows, err = parseInts(*scale); err != nil {
			return fmt.Errorf("-scale-rows: %w", err)
		}
	}
	if *only != "" {
		o.Only = strings.Split(*only, ",")
	}
	o.Keep = *keep
	o.Log = os.Stderr
	if err := o.Validate(); err != nil {
		return err
	}
	t, err := bench.Run(ctx, o)
	if t != nil {
		t.Print(os.Stdout)
	}
	return err
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}
