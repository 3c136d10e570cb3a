package httpapi

import (
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/conveyorhq/conveyor/gen/api"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// fixtureSpec is a one-operation API description: op at path, with the
// x-required-role line role (empty: none).
func fixtureSpec(t *testing.T, path, role string) *openapi3.T {
	t.Helper()
	roleLine := ""
	if role != "" {
		roleLine = "\n      x-required-role: " + role
	}
	params := ""
	if strings.Contains(path, "{team_id}") {
		params = `
      parameters:
        - {name: team_id, in: path, required: true, schema: {type: string, format: uuid}}`
	}
	spec := `openapi: 3.0.3
info: {title: fixture, version: "1"}
paths:
  ` + path + `:
    get:
      operationId: getThing` + roleLine + params + `
      responses:
        "204": {description: done}
`
	doc, err := openapi3.NewLoader().LoadFromData([]byte(spec))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return doc
}

// TestContractFailsClosed: the server is not built from a description in
// which an operation's role could not be enforced: no x-required-role, an
// unknown one, or a team role on a path without {team_id} (the check had
// no team to check in, and was skipped).
func TestContractFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name, path, role, want string
	}{
		{"no x-required-role", "/teams/{team_id}/things", "", "declares no x-required-role"},
		{"unknown role", "/things", "team_owner", `unknown x-required-role "team_owner"`},
		{"team role without team_id", "/things", "team_viewer", "has no {team_id}"},
		{"team manager without team_id", "/teams/{id}/things", "team_manager", "has no {team_id}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newContract(fixtureSpec(t, tc.path, tc.role))
			if err == nil {
				t.Fatalf("built a contract; want an error naming %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "getThing") {
				t.Fatalf("error %q; want it to name getThing and %q", err, tc.want)
			}
		})
	}
	for _, ok := range []struct{ path, role string }{
		{"/teams/{team_id}/things", "team_viewer"},
		{"/things", "authenticated"},
		{"/things", "platform_admin"},
	} {
		c, err := newContract(fixtureSpec(t, ok.path, ok.role))
		if err != nil {
			t.Fatalf("%s %s: %v", ok.role, ok.path, err)
		}
		if got := c.table["getThing"]; got != domain.Requirement(ok.role) {
			t.Fatalf("%s %s: table has %q", ok.role, ok.path, got)
		}
	}
}

// TestServedContractBuilds: the API description the server serves passes
// the start-up check, and every operation has its requirement.
func TestServedContractBuilds(t *testing.T) {
	doc, err := api.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	c, err := newContract(doc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			n++
			if c.needs[op] == "" {
				t.Errorf("%s has no requirement", op.OperationID)
			}
		}
	}
	ops := 0
	for k := range c.table {
		if !strings.Contains(k, ".") { // not a field's requirement (authz.FieldKey)
			ops++
		}
	}
	if n == 0 || ops != n {
		t.Fatalf("%d operations, %d in the table", n, ops)
	}
}
