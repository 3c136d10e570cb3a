package httpapi

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// maxJSONBody bounds every JSON request body.
const maxJSONBody = 1 << 20

// contract enforces the API description on each request before its handler
// runs: it finds the operation, checks the caller against the role the
// operation declares (x-required-role), and validates parameters and body.
type contract struct {
	router routers.Router
	table  authz.Table // by operationId
	needs  map[*openapi3.Operation]domain.Requirement
	// unsecured holds a copy of each operation without security
	// requirements, for validation: credentials are checked by authenticate
	// before, and kin-openapi's security pass reads the whole body into
	// memory (an upload, too).
	unsecured map[*openapi3.Operation]*openapi3.Operation
}

// formats makes the validator check the string formats the spec uses:
// canonical UUIDs (any version; ours are v7) and emails.
var formats sync.Once

func defineFormats() {
	formats.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(
			`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`))
		openapi3.DefineStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
	})
}

func newContract(doc *openapi3.T) (*contract, error) {
	defineFormats()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("httpapi: spec router: %w", err)
	}
	// Fail closed at start-up: every operation declares a known role, and
	// a team role has its {team_id} to be checked in.
	table, err := authz.FromSpec(doc)
	if err != nil {
		return nil, fmt.Errorf("httpapi: %w", err)
	}
	c := &contract{router: router, table: table, needs: map[*openapi3.Operation]domain.Requirement{},
		unsecured: map[*openapi3.Operation]*openapi3.Operation{}}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			bare := *op
			bare.Security = &openapi3.SecurityRequirements{}
			c.unsecured[op] = &bare
			c.needs[op] = table[op.OperationID]
		}
	}
	return c, nil
}

func (s *Server) enforceContract(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := s.contract.router.FindRoute(r)
		switch {
		case errors.Is(err, routers.ErrMethodNotAllowed):
			s.problems.status(w, r, http.StatusMethodNotAllowed, "This path does not take "+clip(r.Method, 32)+".")
			return
		case err != nil:
			s.problems.status(w, r, http.StatusNotFound, "No such path in the API.")
			return
		}
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			s.problems.write(w, r, &domain.Error{Code: domain.CodeInvalid, Message: "The query string is malformed.",
				Fields: []domain.FieldError{{Pointer: "query", Detail: "not valid URL encoding"}}})
			return
		}
		if err := s.limit(w, r, route.Operation); err != nil {
			s.problems.write(w, r, err)
			return
		}
		var teamID *uuid.UUID
		if v, ok := params["team_id"]; ok {
			if id, err := uuid.Parse(v); err == nil {
				teamID = &id
			}
		}
		need := s.contract.needs[route.Operation]
		// A malformed team id is answered by validation below, with a 400.
		if teamID != nil || !strings.HasPrefix(string(need), "team_") {
			if err := s.deps.Authorizer.Authorize(r.Context(), domain.PrincipalFrom(r.Context()), need, teamID); err != nil {
				s.problems.write(w, r, err)
				return
			}
		}
		opts := &openapi3filter.Options{MultiError: true}
		if rb := route.Operation.RequestBody; rb != nil && rb.Value != nil && r.Body != nil && r.Body != http.NoBody {
			mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if rb.Value.Content.Get(mt) == nil {
				s.problems.write(w, r, domain.Errorf(domain.CodeUnsupportedMedia,
					"This operation takes %s, not %q.", strings.Join(contentTypes(rb.Value.Content), " or "), clip(mt, 100)))
				return
			}
			if strings.HasPrefix(mt, "multipart/") {
				// Streamed uploads are read by their handler, never buffered here.
				opts.ExcludeRequestBody = true
			} else {
				r.Body = http.MaxBytesReader(w, r.Body, maxJSONBody)
			}
		}
		bare := *route
		bare.Operation = s.contract.unsecured[route.Operation]
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: &bare, Options: opts}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			s.problems.write(w, r, validationError(err))
			return
		}
		s.serveIdempotent(w, r, route.Operation, next)
	})
}

func contentTypes(c openapi3.Content) []string {
	out := make([]string, 0, len(c))
	for k := range c {
		out = append(out, k)
	}
	return out
}

// validationError turns kin-openapi's findings into one invalid-request
// error with a field entry per finding.
func validationError(err error) error {
	de := &domain.Error{Code: domain.CodeInvalid, Message: "The request does not match the API description.", Err: err}
	var walk func(error)
	walk = func(err error) {
		// Only a MultiError at this level: errors.As would also find the
		// one inside a RequestError and lose which parameter it is about.
		if me, ok := err.(openapi3.MultiError); ok {
			for _, e := range me {
				walk(e)
			}
			return
		}
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			de.Code, de.Message = domain.CodeTooLarge, fmt.Sprintf("The request body is over %d bytes.", mbe.Limit)
			return
		}
		var re *openapi3filter.RequestError
		if !errors.As(err, &re) {
			de.Fields = append(de.Fields, domain.FieldError{Pointer: "", Detail: "invalid request"})
			return
		}
		if re.Err != nil {
			var inner openapi3.MultiError
			if errors.As(re.Err, &inner) && len(inner) > 0 {
				for _, e := range inner {
					addFinding(de, re, e)
				}
				return
			}
		}
		addFinding(de, re, re.Err)
	}
	walk(err)
	return de
}

func addFinding(de *domain.Error, re *openapi3filter.RequestError, cause error) {
	var mbe *http.MaxBytesError
	if errors.As(cause, &mbe) {
		de.Code, de.Message = domain.CodeTooLarge, fmt.Sprintf("The request body is over %d bytes.", mbe.Limit)
		return
	}
	ptr := ""
	if re.Parameter != nil {
		ptr = re.Parameter.Name
	}
	detail := re.Reason
	var se *openapi3.SchemaError
	if errors.As(cause, &se) {
		if re.Parameter == nil {
			ptr = "/" + strings.Join(se.JSONPointer(), "/")
		}
		detail = se.Reason
	} else if cause != nil && detail == "" {
		detail = cause.Error()
	}
	if re.Parameter == nil && ptr == "" {
		ptr = "/"
	}
	if detail == "" {
		detail = "invalid value"
	}
	if len(detail) > 1000 {
		detail = detail[:1000]
	}
	de.Fields = append(de.Fields, domain.FieldError{Pointer: ptr, Detail: detail})
}
