package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// restrictedField is a request body property that declares a stricter
// role than its operation (x-required-role on the property), from the spec.
type restrictedField struct {
	op          teamOperation
	name, need  string
	fieldSchema *openapi3.Schema
}

func restrictedFields(t *testing.T) []restrictedField {
	t.Helper()
	var out []restrictedField
	for _, o := range teamOperations(t) {
		rb := o.op.RequestBody
		if rb == nil || rb.Value == nil || rb.Value.Content.Get("application/json") == nil {
			continue
		}
		s := rb.Value.Content.Get("application/json").Schema.Value
		for name, p := range s.Properties {
			if need, ok := p.Value.Extensions["x-required-role"].(string); ok {
				out = append(out, restrictedField{op: o, name: name, need: need, fieldSchema: p.Value})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].op.id+out[i].name < out[j].op.id+out[j].name })
	return out
}

// TestRestrictedFieldsFromSpec sends, for every request field the spec
// reserves for a stricter role than its operation's (updateTeam's quota:
// platform admins), a body carrying that field as a team manager (who
// passes the operation but not the field): 403, as documented, and the
// change is not applied. A platform admin is not refused.
func TestRestrictedFieldsFromSpec(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "field-iso-admin", true))
	team, err := admin.CreateTeam(ctx, "Field isolation")
	if err != nil {
		t.Fatal(err)
	}
	if r, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "field-iso-manager@example.test", Role: conveyor.TeamRoleManager}); err != nil || r.JSON201 == nil {
		t.Fatalf("add manager: %v", err)
	}
	fields := restrictedFields(t)
	if len(fields) == 0 {
		t.Fatal("the spec declares no restricted request field; updateTeam's quota should be one")
	}
	before, err := admin.Team(ctx, team.Id)
	if err != nil {
		t.Fatal(err)
	}
	client := e.Client(t)
	principals := []struct{ name, header, value string }{
		{"manager user", "Authorization", "Bearer " + e.Token(t, "field-iso-manager", false)},
		{"platform admin", "Authorization", "Bearer " + e.Token(t, "field-iso-admin", true)},
	}
	for _, f := range fields {
		if f.need != "platform_admin" {
			t.Errorf("%s.%s declares %q; the test knows platform_admin only", f.op.id, f.name, f.need)
			continue
		}
		for _, p := range principals {
			t.Run(f.op.id+"."+f.name+"/"+p.name, func(t *testing.T) {
				req := f.op.request(t, e.URL, team.Id.String())
				body, _ := json.Marshal(map[string]any{f.name: sample(f.fieldSchema)})
				req.Body, req.ContentLength = nopCloser{bytes.NewReader(body)}, int64(len(body))
				req.Header.Set(p.header, p.value)
				req.Header.Set("If-Match", "*")
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if isAdmin := p.name == "platform admin"; isAdmin != (resp.StatusCode != http.StatusForbidden) || resp.StatusCode >= 500 {
					t.Fatalf("%s sending %s: %d", p.name, f.name, resp.StatusCode)
				}
				if p.name != "platform admin" {
					if got, _ := admin.Team(ctx, team.Id); got.Quota != before.Quota {
						t.Fatalf("the refused change was applied: %+v", got.Quota)
					}
				}
			})
		}
	}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
