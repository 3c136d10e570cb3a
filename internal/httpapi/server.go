// Package httpapi is Conveyor's HTTP adapter. It implements the generated
// strict server interface and only translates: generated request types to
// domain calls, domain results to generated response types, and every error
// through one mapper to problem+json.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/idempotency"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/platform"
	"github.com/conveyorhq/conveyor/internal/processors"
	"github.com/conveyorhq/conveyor/internal/ratelimit"
	"github.com/conveyorhq/conveyor/internal/teams"
	"github.com/conveyorhq/conveyor/internal/users"
	"github.com/conveyorhq/conveyor/openapi"
)

// Authorizer checks a principal against an operation's declared requirement.
type Authorizer interface {
	Authorize(ctx context.Context, p *domain.Principal, need domain.Requirement, teamID *uuid.UUID) error
}

// Check is one readiness check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Deps is what the HTTP layer is built from.
type Deps struct {
	Teams          *teams.Service
	Users          *users.Service
	Platform       *platform.Service
	Files          *files.Service
	Jobs           *jobs.Service
	Processors     *processors.Registry
	Authenticator  Authenticator // OIDC access tokens
	APIKeys        Authenticator // API key secrets
	Authorizer     Authorizer
	ReadyChecks    []Check
	Metrics        *observe.Metrics
	Logger         *slog.Logger
	DevIssuer      http.Handler  // mounted at /dev/oidc in dev mode; nil otherwise
	Docs           fs.FS         // the docs site, served at /docs/
	Console        fs.FS         // the console's build (index.html at the top), served at /; nil: not served
	ConsoleConfig  ConsoleConfig // answered at /console/config.json
	MaxUploadBytes int64
	CursorKey      []byte                      // signs pagination cursors
	Idempotency    *idempotency.Service        // nil: Idempotency-Key is ignored
	Limiter        Limiter                     // nil: no rate limits
	RateLimits     map[string]*ratelimit.Limit // by class: read, write, upload
	Events         EventHub                    // team event streams
	EventHeartbeat time.Duration               // comment interval on event streams (0: 15 s)
	// AuthFailureLimit is each client address's budget of failed
	// authentications (nil: none); TrustedProxies are the peers whose
	// X-Forwarded-For names the client.
	AuthFailureLimit *ratelimit.Limit
	TrustedProxies   []netip.Prefix
}

// Server implements the generated strict server interface.
type Server struct {
	deps     Deps
	problems problems
	console  *console
	contract *contract
	specJSON []byte
	cursors  cursors
}

var _ api.StrictServerInterface = (*Server)(nil)

// NewHandler builds the whole HTTP surface: health, metrics, docs, the spec,
// the dev issuer (dev mode only) and /api/v1.
func NewHandler(deps Deps) (http.Handler, error) {
	doc, err := api.GetSpec()
	if err != nil {
		return nil, err
	}
	c, err := newContract(doc)
	if err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if len(deps.CursorKey) < 16 {
		return nil, errors.New("httpapi: a cursor key of at least 16 bytes is required")
	}
	s := &Server{deps: deps, problems: problems{log: deps.Logger, metrics: deps.Metrics}, contract: c, specJSON: specJSON, cursors: cursors{key: deps.CursorKey}}

	if deps.Console != nil {
		if s.console, err = newConsole(deps.Console, deps.ConsoleConfig, s.problems); err != nil {
			return nil, err
		}
	}

	r := chi.NewRouter()
	r.Use(requestID, deps.Metrics.HTTP(deps.Logger, RequestID), securityHeaders, limitHeaders, s.recoverer)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.problems.status(w, r, http.StatusNotFound, "No such path.")
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.problems.status(w, r, http.StatusMethodNotAllowed, "This path does not take "+clip(r.Method, 32)+".")
	})
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	r.Get("/readyz", s.ready)
	r.Handle("/metrics", deps.Metrics.Handler())
	if deps.DevIssuer != nil {
		r.Handle("/dev/oidc/*", deps.DevIssuer)
	}
	if deps.Docs != nil {
		r.Get("/docs", http.RedirectHandler("/docs/", http.StatusMovedPermanently).ServeHTTP)
		r.Handle("/docs/*", withHeader("Content-Security-Policy", docsCSP(deps.Docs),
			http.StripPrefix("/docs/", http.FileServerFS(deps.Docs))))
	}
	r.Get("/console/config.json", s.consoleConfig)
	if s.console != nil {
		// Everything no route above claims: the console's files, and its
		// pages (history fallback); server paths stay problem+json 404s.
		r.Handle("/*", s.console)
	}
	r.Route("/api/v1", func(r chi.Router) {
		r.Get("/openapi.json", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(s.specJSON)
		})
		r.Get("/openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/yaml")
			_, _ = w.Write(openapi.V1YAML)
		})
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate, s.enforceContract)
			strict := api.NewStrictHandlerWithOptions(s, []api.StrictMiddlewareFunc{uploadLength}, api.StrictHTTPServerOptions{
				RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
					s.problems.write(w, r, domain.Wrap(err, domain.CodeInvalid, "The request could not be decoded."))
				},
				ResponseErrorHandlerFunc: s.problems.write,
			})
			api.HandlerWithOptions(strict, api.ChiServerOptions{
				BaseRouter: r,
				ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
					s.problems.write(w, r, domain.Wrap(err, domain.CodeInvalid, "A parameter is not valid."))
				},
			})
		})
	})
	return r, nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	status, checks := http.StatusOK, map[string]string{}
	for _, c := range s.deps.ReadyChecks {
		if err := c.Fn(ctx); err != nil {
			status = http.StatusServiceUnavailable
			checks[c.Name] = "failing"
			s.deps.Logger.Warn("readiness check failing", "check", c.Name, "err", err)
			continue
		}
		checks[c.Name] = "ok"
	}
	writeJSON(w, status, map[string]any{"status": http.StatusText(status), "checks": checks})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
