package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/authz"
	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
	"github.com/conveyorhq/conveyor/internal/httpapi"
	"github.com/conveyorhq/conveyor/internal/jobs"
	"github.com/conveyorhq/conveyor/internal/observe"
	"github.com/conveyorhq/conveyor/internal/processors"
	"github.com/conveyorhq/conveyor/internal/teams"
	"github.com/conveyorhq/conveyor/openapi"
)

// outsideEverything is an authorizer for which the caller is in no team
// and no admin.
type outsideEverything struct{}

func (outsideEverything) Authorize(_ context.Context, _ *domain.Principal, need domain.Requirement, _ *uuid.UUID) error {
	switch need {
	case domain.NeedAuthenticated:
		return nil
	case domain.NeedPlatformAdmin:
		return domain.Errorf(domain.CodeForbidden, "Only platform admins may do this.")
	}
	return domain.Errorf(domain.CodeNotFound, "Team not found.")
}

// TestServicesDoNotTrustTheMiddleware: with an HTTP layer whose early
// check lets everything through, the services still refuse what the role
// table does not allow, with the same answers (404 outside a team, 403 for
// platform operations).
func TestServicesDoNotTrustTheMiddleware(t *testing.T) {
	roles, err := authz.FromYAML(openapi.V1YAML)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := processors.Default()
	if err != nil {
		t.Fatal(err)
	}
	policy := authz.New(roles, outsideEverything{})
	user := fuzzAuth{&domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC, Email: "u@example.test"}}
	h, err := httpapi.NewHandler(httpapi.Deps{
		// No stores: a request the service let through would panic (500).
		Teams:         &teams.Service{Policy: policy},
		Files:         &files.Service{Policy: policy},
		Jobs:          &jobs.Service{Policy: policy, Processors: reg},
		Authenticator: user,
		APIKeys:       user,
		Authorizer:    fuzzAllow{},
		Metrics:       observe.NewMetrics(),
		Logger:        slog.New(slog.DiscardHandler),
		CursorKey:     []byte("servicecheck-cursor-key-0123456789"),
	})
	if err != nil {
		t.Fatal(err)
	}
	team := uuid.NewString()
	for _, tc := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/teams/" + team, "", http.StatusNotFound},
		{"GET", "/teams/" + team + "/files", "", http.StatusNotFound},
		{"DELETE", "/teams/" + team + "/files/" + uuid.NewString(), "", http.StatusNotFound},
		{"GET", "/teams/" + team + "/jobs", "", http.StatusNotFound},
		{"POST", "/teams/" + team + "/members", `{"email":"a@example.test","role":"viewer"}`, http.StatusNotFound},
		{"POST", "/teams", `{"name":"Mine now"}`, http.StatusForbidden},
		{"DELETE", "/teams/" + team, "", http.StatusForbidden},
		{"GET", "/processors", "", http.StatusOK},
	} {
		req := httptest.NewRequest(tc.method, "/api/v1"+tc.path, strings.NewReader(tc.body))
		req.Header.Set("Authorization", "Bearer x")
		if tc.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s %s: %d %s; want %d", tc.method, tc.path, rec.Code, rec.Body, tc.want)
			continue
		}
		if tc.want >= 400 {
			var p struct{ Status int }
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Status != tc.want ||
				!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/problem+json") {
				t.Errorf("%s %s: not a problem document: %s", tc.method, tc.path, rec.Body)
			}
		}
	}
}
