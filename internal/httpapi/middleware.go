package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"regexp"
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
// A failure is charged to the client address's budget (chargeAuthFailure).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			s.problems.write(w, r, s.chargeAuthFailure(r, err))
			return
		}
		// Authenticated data is never stored by a cache, unless the
		// handler says otherwise (an event stream's no-cache, say).
		w.Header().Set("Cache-Control", "no-store")
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

// MaxHeaderBytes is the most a request's line and header fields may
// weigh; a heavier request is answered 431 with a problem document.
const MaxHeaderBytes = 64 << 10

// ServerMaxHeaderBytes is what the HTTP server's own limit is set to:
// above MaxHeaderBytes, so that requests between the two reach limitHeaders
// and get a problem document with their request id. Beyond it (plus the 4
// KiB net/http adds) net/http answers its own text/plain 431 before any
// handler runs: the hard backstop that bounds a connection's memory.
const ServerMaxHeaderBytes = 2 * MaxHeaderBytes

// headerBytes is about what a request's line and header fields weighed on
// the wire (HTTP/1.1 framing).
func headerBytes(r *http.Request) int {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	n += len("Host: ") + len(r.Host) + 2 // net/http takes Host out of Header
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// limitHeaders answers a request whose header fields pass MaxHeaderBytes
// with a 431 problem document.
func limitHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headerBytes(r) <= MaxHeaderBytes {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
		_ = json.NewEncoder(w).Encode(problem{
			Type: problemBase + "headers-too-large", Title: "Request header fields too large.",
			Status: http.StatusRequestHeaderFieldsTooLarge, RequestID: requestIDFrom(r.Context()),
			Detail: fmt.Sprintf("The request's header fields weigh more than %d KiB.", MaxHeaderBytes>>10),
		})
	})
}

// apiCSP is the policy of everything that is not a page: an answer that
// a browser is tricked into rendering may load nothing and not be framed.
const apiCSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// securityHeaders sets what every answer carries (OWASP API8), before the
// handler runs, so a handler that serves pages (docs, console, the dev
// issuer's sign-in page) replaces the Content-Security-Policy with its own.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		if p := r.URL.Path; p == "/dev/oidc" || strings.HasPrefix(p, "/dev/oidc/") {
			// The dev issuer's pages set their own policy, if any; they
			// are never framed either way. Their sign-in form posts to
			// itself: under no-referrer a browser would send Origin: null.
			h.Set("Content-Security-Policy", "frame-ancestors 'none'")
			h.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		} else {
			h.Set("Content-Security-Policy", apiCSP)
		}
		next.ServeHTTP(w, r)
	})
}

// withHeader sets a response header before h runs.
func withHeader(name, value string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(name, value)
		h.ServeHTTP(w, r)
	})
}

// docsMetaCSP finds the policy the docs page declares in a meta tag.
var docsMetaCSP = regexp.MustCompile(`(?i)<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"`)

// docsCSP is the docs site's Content-Security-Policy header: the policy
// its index.html declares (the docs build computes its script hashes), with
// what a meta tag cannot carry: frame-ancestors. Without one, a strict
// same-origin policy.
func docsCSP(docs fs.FS) string {
	policy := "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
		"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'"
	if b, err := fs.ReadFile(docs, "index.html"); err == nil {
		if m := docsMetaCSP.FindSubmatch(b); m != nil {
			policy = strings.TrimRight(strings.TrimSpace(html.UnescapeString(string(m[1]))), ";")
		}
	}
	return policy + "; frame-ancestors 'none'"
}
