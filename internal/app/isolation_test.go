package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	openapi_types "github.com/oapi-codegen/runtime/types"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
	"github.com/conveyorhq/conveyor/gen/api"
)

// teamOperation is one operation under /teams/{team_id}, from the spec.
type teamOperation struct {
	method, path, id, need string
	op                     *openapi3.Operation
}

func teamOperations(t *testing.T) []teamOperation {
	t.Helper()
	doc, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var ops []teamOperation
	for path, item := range doc.Paths.Map() {
		if !strings.Contains(path, "{team_id}") {
			continue
		}
		for method, op := range item.Operations() {
			need, _ := op.Extensions["x-required-role"].(string)
			ops = append(ops, teamOperation{method: method, path: path, id: op.OperationID, need: need, op: op})
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	return ops
}

// request builds a plausible, valid request for op in team: other path ids
// are fresh uuids, and the body is made from the request schema.
func (o teamOperation) request(t *testing.T, base, team string) *http.Request {
	t.Helper()
	path := strings.ReplaceAll(o.path, "{team_id}", team)
	for strings.Contains(path, "{") {
		i, j := strings.Index(path, "{"), strings.Index(path, "}")
		path = path[:i] + uuid.NewString() + path[j+1:]
	}
	var body bytes.Buffer
	ctype := ""
	if rb := o.op.RequestBody; rb != nil && rb.Value != nil {
		switch {
		case rb.Value.Content.Get("application/json") != nil:
			ctype = "application/json"
			if err := json.NewEncoder(&body).Encode(sample(rb.Value.Content.Get("application/json").Schema.Value)); err != nil {
				t.Fatal(err)
			}
		case rb.Value.Content.Get("multipart/form-data") != nil:
			mw := multipart.NewWriter(&body)
			w, _ := mw.CreateFormFile("file", "isolation.txt")
			_, _ = w.Write([]byte("isolation"))
			_ = mw.Close()
			ctype = mw.FormDataContentType()
		default:
			t.Fatalf("%s: the isolation test cannot build a body for %v; teach it", o.id, rb.Value.Content)
		}
	}
	req, err := http.NewRequest(strings.ToUpper(o.method), base+"/api/v1"+path, &body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	return req
}

// sample returns a value that satisfies s, from its example, enum, format
// and bounds.
func sample(s *openapi3.Schema) any {
	if s == nil {
		return nil
	}
	if s.Example != nil {
		return s.Example
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.AllOf) > 0 {
		out := map[string]any{}
		for _, r := range s.AllOf {
			if m, ok := sample(r.Value).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		return out
	}
	switch {
	case s.Type.Is("string"):
		switch s.Format {
		case "uuid":
			return uuid.NewString()
		case "email":
			return "someone@example.test"
		case "date-time":
			return time.Now().UTC().Format(time.RFC3339)
		}
		return strings.Repeat("a", max(int(s.MinLength), 1))
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("array"):
		return []any{}
	}
	out := map[string]any{}
	for _, name := range s.Required {
		if p := s.Properties[name]; p != nil {
			out[name] = sample(p.Value)
		}
	}
	return out
}

var rank = map[string]int{"team_viewer": 1, "team_member": 2, "team_manager": 3}

// TestTenantIsolationFromSpec sends every operation under /teams/{team_id}
// — read from the spec, so a new one is covered the day it is added — as
// principals outside the team (a user, another team's API key: 404, the
// team's existence not revealed) and inside it with too low a role (403).
// The team operations only platform admins may call (deleteTeam) are 403
// for every one of them, members or not.
func TestTenantIsolationFromSpec(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "iso-admin", true))
	team, err := admin.CreateTeam(ctx, "Isolated")
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := admin.CreateTeam(ctx, "Elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := admin.CreateApiKeyWithResponse(ctx, elsewhere.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "other", Role: conveyor.ApiKeyCreateRoleMember})
	if err != nil || otherKey.JSON201 == nil {
		t.Fatal(err)
	}
	viewerKey, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "viewer", Role: conveyor.ApiKeyCreateRoleViewer})
	if err != nil || viewerKey.JSON201 == nil {
		t.Fatal(err)
	}
	memberKey, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "member", Role: conveyor.ApiKeyCreateRoleMember})
	if err != nil || memberKey.JSON201 == nil {
		t.Fatal(err)
	}
	viewerTok := e.Token(t, "iso-viewer", false)
	memberTok := e.Token(t, "iso-member", false)
	for email, role := range map[string]conveyor.TeamRole{"iso-viewer@example.test": conveyor.TeamRoleViewer, "iso-member@example.test": conveyor.TeamRoleMember} {
		if r, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: openapi_types.Email(email), Role: role}); err != nil || r.JSON201 == nil {
			t.Fatalf("add %s: %v", email, err)
		}
	}

	type who struct {
		name, header, value string
		rank                int // role inside the team; 0 = outside
	}
	principals := []who{
		{"outsider user", "Authorization", "Bearer " + e.Token(t, "iso-outsider", false), 0},
		{"other team's API key", "X-API-Key", otherKey.JSON201.Secret, 0},
		{"viewer user", "Authorization", "Bearer " + viewerTok, 1},
		{"viewer API key", "X-API-Key", viewerKey.JSON201.Secret, 1},
		{"member user", "Authorization", "Bearer " + memberTok, 2},
		{"member API key", "X-API-Key", memberKey.JSON201.Secret, 2},
	}
	ops := teamOperations(t)
	if len(ops) < 10 {
		t.Fatalf("only %d team operations found in the spec", len(ops))
	}
	client := e.Client(t)
	for _, o := range ops {
		need, ok := rank[o.need]
		if !ok && o.need != "platform_admin" {
			t.Errorf("%s: team operation declares %q, not a team role (or platform_admin)", o.id, o.need)
			continue
		}
		for _, p := range principals {
			t.Run(o.id+"/"+p.name, func(t *testing.T) {
				req := o.request(t, e.URL, team.Id.String())
				req.Header.Set(p.header, p.value)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				switch {
				case o.need == "platform_admin":
					if resp.StatusCode != http.StatusForbidden {
						t.Fatalf("not a platform admin: %d, want 403", resp.StatusCode)
					}
				case p.rank == 0 && resp.StatusCode != http.StatusNotFound:
					t.Fatalf("outside the team: %d, want 404", resp.StatusCode)
				case p.rank > 0 && p.rank < need && resp.StatusCode != http.StatusForbidden:
					t.Fatalf("role too low for %s: %d, want 403", o.need, resp.StatusCode)
				case p.rank >= need && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode >= 500):
					t.Fatalf("allowed role got %d", resp.StatusCode)
				}
			})
		}
	}
	fmt.Fprintf(testingWriter{t}, "isolation: %d team operations x %d principals\n", len(ops), len(principals))
}

type testingWriter struct{ t *testing.T }

func (w testingWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// TestPlatformOperationsFromSpec sends every operation the spec reserves
// for platform admins (x-required-role: platform_admin), inside teams or
// not, as a user and as an API key — 403 — and as a platform admin, who
// is not refused (its team operations aim at a team that does not exist).
func TestPlatformOperationsFromSpec(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "platform-iso-admin", true))
	team, err := admin.CreateTeam(ctx, "Platform isolation")
	if err != nil {
		t.Fatal(err)
	}
	key, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "member", Role: conveyor.ApiKeyCreateRoleMember})
	if err != nil || key.JSON201 == nil {
		t.Fatal(err)
	}
	if r, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "platform-iso-manager@example.test", Role: conveyor.TeamRoleManager}); err != nil || r.JSON201 == nil {
		t.Fatalf("add manager: %v", err)
	}
	doc, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	var ops []teamOperation
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if need, _ := op.Extensions["x-required-role"].(string); need == "platform_admin" {
				ops = append(ops, teamOperation{method: method, path: path, id: op.OperationID, need: need, op: op})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].id < ops[j].id })
	if len(ops) < 3 {
		t.Fatalf("only %d platform operations found in the spec", len(ops))
	}
	client := e.Client(t)
	for _, o := range ops {
		for _, p := range []struct{ name, header, value, team string }{
			{"team manager", "Authorization", "Bearer " + e.Token(t, "platform-iso-manager", false), team.Id.String()},
			{"team API key", "X-API-Key", key.JSON201.Secret, team.Id.String()},
			{"platform admin", "Authorization", "Bearer " + e.Token(t, "platform-iso-admin", true), uuid.NewString()},
		} {
			t.Run(o.id+"/"+p.name, func(t *testing.T) {
				req := o.request(t, e.URL, p.team)
				req.Header.Set(p.header, p.value)
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				admin := p.name == "platform admin"
				switch {
				case !admin && resp.StatusCode != http.StatusForbidden:
					t.Fatalf("not a platform admin: %d, want 403", resp.StatusCode)
				case admin && (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusUnauthorized || resp.StatusCode >= 500):
					t.Fatalf("a platform admin got %d", resp.StatusCode)
				}
			})
		}
	}
	if _, err := admin.Team(ctx, team.Id); err != nil {
		t.Fatalf("the team the refused callers aimed at: %v", err)
	}
	fmt.Fprintf(testingWriter{t}, "platform operations: %d x 3 principals\n", len(ops))
}
