package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/observe"
)

// problemBase prefixes every problem type URI.
const problemBase = "https://conveyor.dev/problems/"

// problemKinds is the one table from a domain code to an HTTP status, a
// problem type and a title.
var problemKinds = map[domain.Code]struct {
	status int
	slug   string
	title  string
}{
	domain.CodeInvalid:              {http.StatusBadRequest, "invalid-request", "Your request is not valid."},
	domain.CodeUnauthenticated:      {http.StatusUnauthorized, "unauthenticated", "Authentication is required."},
	domain.CodeUserDisabled:         {http.StatusUnauthorized, "user-disabled", "Your account is disabled."},
	domain.CodeForbidden:            {http.StatusForbidden, "forbidden", "You may not do this."},
	domain.CodeNotFound:             {http.StatusNotFound, "not-found", "Not found."},
	domain.CodeMethodNotAllowed:     {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed."},
	domain.CodeConflict:             {http.StatusConflict, "conflict", "The request conflicts with the current state."},
	domain.CodePreconditionFailed:   {http.StatusPreconditionFailed, "precondition-failed", "The resource has changed."},
	domain.CodePreconditionRequired: {http.StatusPreconditionRequired, "precondition-required", "If-Match is required."},
	domain.CodeTooLarge:             {http.StatusRequestEntityTooLarge, "too-large", "The request body is too large."},
	domain.CodeFileTooLarge:         {http.StatusRequestEntityTooLarge, "file-too-large", "The file is larger than the team may store."},
	domain.CodeQuotaExceeded:        {http.StatusRequestEntityTooLarge, "quota-exceeded", "The team's storage quota would be exceeded."},
	domain.CodeUnsupportedMedia:     {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported Content-Type."},
	domain.CodeRangeNotSatisfiable:  {http.StatusRequestedRangeNotSatisfiable, "range-not-satisfiable", "Range not satisfiable."},
	domain.CodeUnprocessable:        {http.StatusUnprocessableEntity, "unprocessable", "The request breaks a rule."},
	domain.CodeRateLimited:          {http.StatusTooManyRequests, "rate-limited", "Too many requests."},
	domain.CodeUnavailable:          {http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable."},
	domain.CodeInternal:             {http.StatusInternalServerError, "internal", "Something went wrong on our side."},
}

// codeForStatus is the reverse, for errors raised by the router (the
// general code of a status that has several: 413 is too-large, not a
// quota's).
func codeForStatus(status int) domain.Code {
	for c, k := range problemKinds {
		if k.status == status && c != domain.CodeUserDisabled && c != domain.CodeFileTooLarge && c != domain.CodeQuotaExceeded {
			return c
		}
	}
	return domain.CodeInternal
}

type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
	Quota     *quotaDoc    `json:"quota,omitempty"`
}

// quotaDoc is the QuotaViolation extension of quota-exceeded and
// file-too-large problems.
type quotaDoc struct {
	Quota          string `json:"quota"`
	Limit          int64  `json:"limit"`
	StoredBytes    int64  `json:"stored_bytes"`
	ReservedBytes  int64  `json:"reserved_bytes"`
	RequestedBytes *int64 `json:"requested_bytes,omitempty"`
}

func quotaOut(q *domain.QuotaExceeded) *quotaDoc {
	if q == nil {
		return nil
	}
	d := &quotaDoc{Quota: q.Quota, Limit: q.Limit, StoredBytes: q.StoredBytes, ReservedBytes: q.ReservedBytes}
	if q.RequestedBytes > 0 {
		d.RequestedBytes = &q.RequestedBytes
	}
	return d
}

type fieldError struct {
	Pointer string `json:"pointer"`
	Detail  string `json:"detail"`
}

// problems writes errors as RFC 9457 documents. Only the messages of
// domain errors reach the client; everything else is logged and answered
// with a generic 500.
type problems struct {
	log     *slog.Logger
	metrics *observe.Metrics // counts quota refusals; nil: not counted
}

// write answers err as problem+json.
func (p problems) write(w http.ResponseWriter, r *http.Request, err error) {
	var de *domain.Error
	if !errors.As(err, &de) {
		de = &domain.Error{Code: domain.CodeInternal, Err: err}
	}
	kind, ok := problemKinds[de.Code]
	if !ok {
		kind = problemKinds[domain.CodeInternal]
	}
	detail := de.Message
	if de.Code == domain.CodeInternal {
		detail = "The error has been logged with the request id."
	}
	switch {
	case observe.ClientGone(r):
		// The client left (mid-upload, say): what failed after is its
		// doing, not the server's; the answer will never reach it.
		p.log.InfoContext(r.Context(), "client closed request", "status", observe.StatusClientClosed, "would_be", kind.status,
			"err", err, "request_id", requestIDFrom(r.Context()), "path", r.URL.Path)
	case kind.status >= 500:
		p.log.ErrorContext(r.Context(), "request failed", "status", kind.status, "err", err,
			"request_id", requestIDFrom(r.Context()), "path", r.URL.Path)
	case de.Err != nil:
		p.log.DebugContext(r.Context(), "request refused", "status", kind.status, "err", err)
	}
	doc := problem{Type: problemBase + kind.slug, Title: kind.title, Status: kind.status, Detail: clip(detail, 4096),
		Instance: instance(r), RequestID: requestIDFrom(r.Context())}
	if de.Code == domain.CodeQuotaExceeded || de.Code == domain.CodeFileTooLarge {
		doc.Quota = quotaOut(de.Quota)
		p.metrics.QuotaRefused(kind.slug)
	}
	for _, f := range de.Fields {
		if len(doc.Errors) == 100 {
			break
		}
		doc.Errors = append(doc.Errors, fieldError{Pointer: clip(f.Pointer, 512), Detail: clip(f.Detail, 1024)})
	}
	if de.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((de.RetryAfter+time.Second-1)/time.Second)))
	}
	if de.Code == domain.CodeUnauthenticated || de.Code == domain.CodeUserDisabled {
		w.Header().Set("WWW-Authenticate", `Bearer realm="conveyor"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(kind.status)
	_ = json.NewEncoder(w).Encode(doc)
}

// status writes a problem for a bare status (router 404 and 405).
func (p problems) status(w http.ResponseWriter, r *http.Request, status int, msg string) {
	p.write(w, r, domain.Errorf(codeForStatus(status), "%s", msg))
}

// instance is the request's path, when it is one (it starts with "/") and
// short enough to echo; client input never makes a problem document break
// its own schema.
func instance(r *http.Request) string {
	p := r.URL.EscapedPath()
	if !strings.HasPrefix(p, "/") || len(p) > 2048 {
		return ""
	}
	return p
}

// clip shortens s to at most n bytes, on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n-3]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "..."
}
