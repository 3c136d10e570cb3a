package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/conveyorhq/conveyor/internal/observe"
)

// startTracing honours a caller's traceparent and, when the OTEL_*
// variables ask for it, exports spans as service; the returned func
// flushes them at exit.
func startTracing(ctx context.Context, getenv func(string) string, service string, log *slog.Logger) (func(), error) {
	shutdown, err := observe.SetupTracing(ctx, getenv, service)
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			log.Warn("tracing: flush spans at exit", "err", err)
		}
	}, nil
}

// handlePprof serves the runtime profiles under /debug/pprof/ on mux: only
// ever on an internal listener (CONVEYOR_INTERNAL_ADDR, CONVEYOR_WORKER_ADDR),
// never on the public one.
func handlePprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

// internalServer serves the API's /metrics and /debug/pprof/ on
// CONVEYOR_INTERNAL_ADDR.
type internalServer struct {
	srv  *http.Server
	errc chan error
}

func startInternal(addr string, m *observe.Metrics) (*internalServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve: listen on CONVEYOR_INTERNAL_ADDR %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	handlePprof(mux)
	s := &internalServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}, errc: make(chan error, 1)}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.errc <- fmt.Errorf("serve: internal listener %s: %w", addr, err)
		}
	}()
	return s, nil
}

// stop closes the listener; a profile being taken is cut short.
func (s *internalServer) stop() { _ = s.srv.Close() }
