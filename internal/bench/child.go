package bench

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/conveyorhq/conveyor/internal/app"
	"github.com/conveyorhq/conveyor/internal/bench/baseline"
)

// Child runs one of the benchmark's child processes; args are what
// follows ChildArg: `conveyor <command>...` runs Conveyor itself (app.Run,
// as the conveyor binary does), `baseline-read -addr ... -issuer ...
// -audience ... -db ...` the lean read service.
func Child(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("bench: %s needs a command", ChildArg)
	}
	switch args[0] {
	case "conveyor":
		return app.Run(ctx, args, getenv, stdout, stderr)
	case "baseline-read":
		fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
		var o baseline.ReadOptions
		fs.StringVar(&o.Addr, "addr", "", "listen address")
		fs.StringVar(&o.Issuer, "issuer", "", "OIDC issuer")
		fs.StringVar(&o.Audience, "audience", "", "token audience")
		fs.StringVar(&o.DatabaseURL, "db", "", "replica URL (through PgBouncer)")
		if err := fs.Parse(args[1:]); err != nil {
			return err
		}
		return baseline.ServeRead(ctx, o)
	}
	return fmt.Errorf("bench: unknown child %q", args[0])
}
