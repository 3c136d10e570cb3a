package store

import (
	"context"
	"strings"

	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/propagation"
)

// queryTracer gives each statement a client span (a child of the request's
// or the job attempt's), named after its sqlc query ("CreateJob") where it
// has one, else after its first keyword. Statement text is recorded, its
// parameters never are.
func queryTracer() pgx.QueryTracer {
	return otelpgx.NewTracer(otelpgx.WithSpanNameFunc(queryName))
}

// queryName is the sqlc name of stmt ("-- name: CreateJob :one" first),
// or its first word ("SELECT").
func queryName(stmt string) string {
	s := strings.TrimSpace(stmt)
	if rest, ok := strings.CutPrefix(s, "-- name: "); ok {
		if f := strings.Fields(rest); len(f) > 0 {
			return f[0]
		}
	}
	if f := strings.Fields(s); len(f) > 0 {
		return strings.ToUpper(f[0])
	}
	return "query"
}

// traceParent is the W3C traceparent of ctx's span, "" for none: what a
// dispatch record keeps of the request that queued its run, so that the
// run's task, sent when a relay admits it, continues that trace.
func traceParent(ctx context.Context) string {
	h := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, h)
	return h["traceparent"]
}
