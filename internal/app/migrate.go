package app

import (
	"context"
	"database/sql"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/conveyorhq/conveyor/internal/config"
	"github.com/conveyorhq/conveyor/migrations"
)

func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, _ io.Writer) error {
	cfg, err := parseConfig(getenv, config.NeedDatabase)
	if err != nil {
		return err
	}
	action := "up"
	if len(args) > 0 {
		action = args[0]
	}
	switch action {
	case "up":
		return migrateUp(ctx, cfg.MigrateURL, stdout)
	case "status":
		return migrateStatus(ctx, cfg.MigrateURL, stdout)
	}
	return fmt.Errorf("migrate: unknown action %q (want up or status)", action)
}

func migrationProvider(url string) (*goose.Provider, *sql.DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.FS)
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return p, db, nil
}

// migrateUp applies every pending migration.
func migrateUp(ctx context.Context, url string, out io.Writer) error {
	p, db, err := migrationProvider(url)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	for _, r := range res {
		fmt.Fprintf(out, "applied %s (%s)\n", r.Source.Path, r.Duration.Round(1e6))
	}
	return nil
}

func migrateStatus(ctx context.Context, url string, out io.Writer) error {
	p, db, err := migrationProvider(url)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := p.Status(ctx)
	if err != nil {
		return fmt.Errorf("migrate status: %w", err)
	}
	for _, s := range st {
		fmt.Fprintf(out, "%-40s %s\n", s.Source.Path, s.State)
	}
	return nil
}
