package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/auth"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// requestIDFrom returns the request id stored by requestID.
func requestIDFrom(ctx context.Context) string { return domain.RequestIDFrom(ctx) }

// RequestID returns the request id of r.
func RequestID(r *http.Request) string { return requestIDFrom(r.Context()) }

// validRequestID reports whether a client's X-Request-ID may be reused: at
// most 128 visible ASCII characters.
func validRequestID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// requestID takes X-Request-ID from the request when it is sane, or makes
// one, and echoes it (and any traceparent) on the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !validRequestID(id) {
			id = uuid.Must(uuid.NewV7()).String()
		}
		w.Header().Set("X-Request-ID", id)
		if tp := r.Header.Get("traceparent"); tp != "" && len(tp) <= 64 {
			w.Header().Set("traceparent", tp)
		}
		next.ServeHTTP(w, r.WithContext(domain.WithRequestID(r.Context(), id)))
	})
}

// recoverer turns a panic into a 500 problem; the stack goes to the log only.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.problems.write(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack()))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Authenticator turns a bearer token into a principal.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*domain.Principal, error)
}

// authenticate requires credentials — an OIDC bearer token, or an API key
// as X-API-Key or as a bearer token — and puts the principal in the context.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			s.problems.write(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(domain.WithPrincipal(r.Context(), p)))
	})
}

func (s *Server) principal(r *http.Request) (*domain.Principal, error) {
	keys, hasKey := r.Header["X-Api-Key"]
	authz, hasAuthz := r.Header["Authorization"]
	switch {
	case hasKey && hasAuthz:
		return nil, domain.Errorf(domain.CodeUnauthenticated, "Send one credential: X-API-Key or Authorization, not both.")
	case hasKey:
		if len(keys) != 1 {
			return nil, domain.Errorf(domain.CodeUnauthenticated, "Send one X-API-Key header.")
		}
		return s.deps.APIKeys.Authenticate(r.Context(), strings.TrimSpace(keys[0]))
	case !hasAuthz:
		return nil, domain.Errorf(domain.CodeUnauthenticated, "Send an access token (Authorization: Bearer <token>) or an API key (X-API-Key).")
	}
	if len(authz) != 1 {
		return nil, domain.Errorf(domain.CodeUnauthenticated, "Send one Authorization header.")
	}
	scheme, token, ok := strings.Cut(authz[0], " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" || len(token) > 16<<10 || strings.ContainsAny(token, " \t") {
		return nil, domain.Errorf(domain.CodeUnauthenticated, "The Authorization header must be: Bearer <token>.")
	}
	if strings.HasPrefix(token, auth.APIKeyPrefix) {
		return s.deps.APIKeys.Authenticate(r.Context(), token)
	}
	return s.deps.Authenticator.Authenticate(r.Context(), token)
}
