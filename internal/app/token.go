package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/config"
)

// runToken prints a dev access token (as the last line of its output) that
// the API accepts while it runs in dev mode with the same run folder.
func runToken(_ context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(getenv, 0)
	if err != nil {
		return err
	}
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	subject := fs.String("subject", "", "the token's subject (required)")
	email := fs.String("email", "", "the email claim")
	name := fs.String("name", "", "the name claim")
	admin := fs.Bool("admin", false, "make the caller a platform admin")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *subject == "" {
		return fmt.Errorf("token: --subject is required")
	}
	tok, err := mintDevToken(cfg, auth.TokenRequest{Subject: *subject, Email: *email, Name: *name, Admin: *admin, TTL: *ttl})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "dev token for %q (admin=%v), valid %s:\n%s\n", *subject, *admin, *ttl, tok)
	return nil
}

// mintDevToken signs a token with the dev issuer of the API at the
// configured public URL (or address).
func mintDevToken(cfg *config.Config, req auth.TokenRequest) (string, error) {
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + cfg.HTTPAddr
	}
	iss, err := auth.LoadDevIssuer(auth.DevKeyFile(cfg.RunDir), devIssuerURL(publicURL), cfg.OIDCAudience)
	if err != nil {
		return "", err
	}
	return iss.Mint(req, cfg.OIDCAdminRole)
}
