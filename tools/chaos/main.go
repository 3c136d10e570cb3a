// Command chaos is `make chaos`: it starts the local topology, loads it
// through its ingress with virtual clients (the Go SDK) while faults are
// injected on a fixed schedule, and prints the report (see internal/chaos
// and README.md, "Chaos"). It exits 1 when a goal was missed.
//
//	go run ./tools/chaos [-clients 200] [-duration 60s] [-outage 10s] [-big 4]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/conveyorhq/conveyor/internal/apptest"
	"github.com/conveyorhq/conveyor/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	clients := fs.Int("clients", 200, "virtual clients")
	duration := fs.Duration("duration", 60*time.Second, "length of the load")
	outage := fs.Duration("outage", 10*time.Second, "how long the primary and S3 each stay down")
	big := fs.Int("big", 4, "50 MiB uploads in flight at most")
	if err := fs.Parse(args); err != nil {
		return err
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, format+"\n", a...) }
	began := time.Now()
	env, err := apptest.New(ctx, "chaos", apptest.Options{Replicas: 2})
	if err != nil {
		return err
	}
	defer func() {
		if err := env.Close(); err != nil {
			logf("chaos: stop: %v", err)
		}
	}()
	logf("chaos: topology up in %s", time.Since(began).Round(100*time.Millisecond))
	rep, err := chaos.Run(ctx, chaos.Single{Env: env}, chaos.Options{Clients: *clients, Duration: *duration, Outage: *outage, BigUploads: *big, Logf: logf})
	if rep != nil {
		rep.Print(stdout)
	}
	if err != nil {
		return err
	}
	if v := rep.Violations(); len(v) > 0 {
		return fmt.Errorf("%d goals missed", len(v))
	}
	return nil
}
