package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/conveyorhq/conveyor/internal/breaker"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/ratelimit"
)

// Limiter takes one request from a named budget.
type Limiter interface {
	Allow(ctx context.Context, key string, limit ratelimit.Limit) (ratelimit.Decision, error)
}

// rateClass is the class of an operation: its x-rate-limit-class, else
// read for GET and HEAD and write for everything else.
func rateClass(op *openapi3.Operation, method string) string {
	if c, ok := op.Extensions["x-rate-limit-class"].(string); ok {
		return c
	}
	if method == http.MethodGet || method == http.MethodHead {
		return "read"
	}
	return "write"
}

// limit charges the request to the principal's budget for its class and
// sets the RateLimit-* headers. It returns a rate-limited error when the
// budget is spent. When Redis cannot be asked, the request goes through:
// an outage of the limiter must not become an outage of the API.
func (s *Server) limit(w http.ResponseWriter, r *http.Request, op *openapi3.Operation) error {
	p := domain.PrincipalFrom(r.Context())
	if s.deps.Limiter == nil || p == nil {
		return nil
	}
	class := rateClass(op, r.Method)
	lim := s.deps.RateLimits[class]
	if lim == nil {
		return nil
	}
	d, err := s.deps.Limiter.Allow(r.Context(), p.Key()+":"+class, *lim)
	if err != nil {
		lvl := slog.LevelWarn
		if errors.Is(err, breaker.ErrUnavailable) {
			lvl = slog.LevelDebug // the breaker logs the outage, not once per request
		}
		s.deps.Logger.Log(r.Context(), lvl, "rate limiter unavailable; letting the request through", "err", err)
		return nil
	}
	h := w.Header()
	h.Set("RateLimit-Limit", strconv.Itoa(d.Limit))
	h.Set("RateLimit-Remaining", strconv.Itoa(d.Remaining))
	h.Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.Reset)))
	if d.Allowed {
		return nil
	}
	return &domain.Error{Code: domain.CodeRateLimited, RetryAfter: d.RetryAfter,
		Message: "You are over the " + class + " rate limit; retry after the time in Retry-After."}
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
