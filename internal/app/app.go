// Package app is Conveyor's composition root: configuration in, a wired
// server, worker or tool out. Run is the whole program; main only calls it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

const usage = `usage: conveyor <command> [flags]

commands:
  serve     run the API (and the docs) until SIGTERM
  worker    run the job worker and the outbox relay until SIGTERM
  migrate   apply database migrations: migrate up | migrate status
  token     print a dev access token: token --subject S [--email E] [--name N] [--admin] [--ttl 1h]
  dev       start the local topology, migrate, run API and worker (what make run runs)

Configuration comes from CONVEYOR_* environment variables; see README.md.
`

// Run runs the command in args (args[0] is the program name).
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, rest := args[1], args[2:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return runWorker(ctx, rest, getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, getenv, stdout, stderr)
	case "token":
		return runToken(ctx, rest, getenv, stdout, stderr)
	case "dev":
		return runDev(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", strings.TrimSpace(cmd))
}
