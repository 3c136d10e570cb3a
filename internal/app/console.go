package app

import (
	"context"
	"log/slog"
	"net/url"
	"time"
)

// storageOrigin is the origin (scheme://host) of the presigned URLs storage
// hands out, which the console's direct uploads and downloads reach: it
// presigns a URL (a local computation, with the configured credentials)
// rather than guess the SDK's addressing. "" when that fails: the console's
// direct transfers are then refused by its CSP, and the reason is logged.
func storageOrigin(ctx context.Context, presign func(ctx context.Context, key string, ttl time.Duration) (string, error), log *slog.Logger) string {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	raw, err := presign(ctx, "console-csp-probe", time.Minute)
	if err == nil {
		u, perr := url.Parse(raw)
		if perr == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
			return u.Scheme + "://" + u.Host
		}
		err = perr
	}
	log.Warn("the console's CSP leaves storage out: direct uploads and downloads from the console will be refused", "err", err)
	return ""
}
