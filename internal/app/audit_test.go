package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// TestAuditFilters: the audit log narrows by action, actor and time, the
// filters combine, pages of a filtered list follow each other, a cursor
// continues only the list of its filters, a reversed time range is a 400
// on since, and only managers (and platform admins) read it.
func TestAuditFilters(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "auditf-admin", true))
	team, err := admin.CreateTeam(ctx, "Audited")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		email string
		role  conveyor.TeamRole
	}{{"auditf-manager@example.test", conveyor.TeamRoleManager}, {"auditf-viewer@example.test", conveyor.TeamRoleViewer}, {"auditf-a@example.test", conveyor.TeamRoleMember}} {
		if r, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: openapi_types.Email(m.email), Role: m.role}); err != nil || r.JSON201 == nil {
			t.Fatalf("add %s: %v", m.email, err)
		}
	}
	manager := sdk(t, e, e.Token(t, "auditf-manager", false))
	me, err := manager.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	managerID := me.User.Id.String()
	key, err := manager.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "audited", Role: conveyor.ApiKeyCreateRoleMember})
	if err != nil || key.JSON201 == nil {
		t.Fatalf("create key: %v", err)
	}
	if r, err := manager.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: "auditf-b@example.test", Role: conveyor.TeamRoleMember}); err != nil || r.JSON201 == nil {
		t.Fatalf("manager adds: %v", err)
	}
	if r, err := manager.RevokeApiKeyWithResponse(ctx, team.Id, key.JSON201.Id, nil); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v", err)
	}

	list := func(p *conveyor.ListAuditEventsParams) []conveyor.AuditEvent {
		t.Helper()
		r, err := manager.ListAuditEventsWithResponse(ctx, team.Id, p)
		if err != nil || r.JSON200 == nil {
			t.Fatalf("list %+v: %v %d %s", p, err, r.StatusCode(), r.Body)
		}
		return r.JSON200.Items
	}
	all := list(nil)
	if len(all) != 7 {
		t.Fatalf("%d events, want 7: %s", len(all), jsonOf(all))
	}
	ids := func(evs []conveyor.AuditEvent) string {
		var s []string
		for _, ev := range evs {
			s = append(s, ev.Id.String())
		}
		return jsonOf(s)
	}
	want := func(keep func(conveyor.AuditEvent) bool) []conveyor.AuditEvent {
		var out []conveyor.AuditEvent
		for _, ev := range all {
			if keep(ev) {
				out = append(out, ev)
			}
		}
		return out
	}
	str := func(s string) *string { return &s }

	added := want(func(ev conveyor.AuditEvent) bool { return ev.Action == "member.added" })
	byManager := want(func(ev conveyor.AuditEvent) bool { return ev.Actor.Id == managerID })
	both := want(func(ev conveyor.AuditEvent) bool { return ev.Action == "member.added" && ev.Actor.Id == managerID })
	if len(added) != 4 || len(byManager) != 3 || len(both) != 1 {
		t.Fatalf("fixture: %d added, %d by the manager, %d both", len(added), len(byManager), len(both))
	}
	if got := list(&conveyor.ListAuditEventsParams{Action: str("member.added")}); ids(got) != ids(added) {
		t.Errorf("action filter: %s, want %s", ids(got), ids(added))
	}
	if got := list(&conveyor.ListAuditEventsParams{Actor: &managerID}); ids(got) != ids(byManager) {
		t.Errorf("actor filter: %s, want %s", ids(got), ids(byManager))
	}
	if got := list(&conveyor.ListAuditEventsParams{Action: str("member.added"), Actor: &managerID}); ids(got) != ids(both) {
		t.Errorf("action and actor: %s, want %s", ids(got), ids(both))
	}
	if got := list(&conveyor.ListAuditEventsParams{Action: str("team.renamed")}); len(got) != 0 {
		t.Errorf("an action that never happened lists %d", len(got))
	}

	// since is inclusive, until exclusive, on the events' own times.
	since, until := all[5].CreatedAt, all[1].CreatedAt
	inRange := want(func(ev conveyor.AuditEvent) bool { return !ev.CreatedAt.Before(since) && ev.CreatedAt.Before(until) })
	if len(inRange) == 0 || len(inRange) == len(all) {
		t.Fatalf("fixture: %d events in range", len(inRange))
	}
	if got := list(&conveyor.ListAuditEventsParams{Since: &since, Until: &until}); ids(got) != ids(inRange) {
		t.Errorf("since/until: %s, want %s", ids(got), ids(inRange))
	}
	addedInRange := want(func(ev conveyor.AuditEvent) bool {
		return ev.Action == "member.added" && !ev.CreatedAt.Before(since) && ev.CreatedAt.Before(until)
	})
	if got := list(&conveyor.ListAuditEventsParams{Action: str("member.added"), Since: &since, Until: &until}); ids(got) != ids(addedInRange) {
		t.Errorf("action with since/until: %s, want %s", ids(got), ids(addedInRange))
	}
	future := time.Now().Add(time.Hour)
	if got := list(&conveyor.ListAuditEventsParams{Since: &future}); len(got) != 0 {
		t.Errorf("since the future lists %d", len(got))
	}

	// Pages of a filtered list follow each other; the cursor is bound to the filters.
	one := conveyor.Limit(1)
	var paged []conveyor.AuditEvent
	var cursor *string
	for i := 0; i < 10; i++ {
		r, err := manager.ListAuditEventsWithResponse(ctx, team.Id, &conveyor.ListAuditEventsParams{Action: str("member.added"), Limit: &one, Cursor: cursor})
		if err != nil || r.JSON200 == nil {
			t.Fatalf("page %d: %v", i, err)
		}
		paged = append(paged, r.JSON200.Items...)
		if cursor = r.JSON200.NextCursor; cursor == nil {
			break
		}
		if i == 0 {
			for name, p := range map[string]conveyor.ListAuditEventsParams{
				"another action": {Action: str("api_key.created"), Cursor: cursor},
				"no filter":      {Cursor: cursor},
				"an added actor": {Action: str("member.added"), Actor: &managerID, Cursor: cursor},
			} {
				r, err := manager.ListAuditEventsWithResponse(ctx, team.Id, &p)
				if err != nil || r.StatusCode() != http.StatusBadRequest || fieldErrors(t, r.Body)["cursor"] == "" {
					t.Errorf("the cursor reused with %s: %d %s", name, r.StatusCode(), r.Body)
				}
			}
		}
	}
	if ids(paged) != ids(added) {
		t.Errorf("paged: %s, want %s", ids(paged), ids(added))
	}

	// Bad filters are 400s naming the parameter.
	r, err := manager.ListAuditEventsWithResponse(ctx, team.Id, &conveyor.ListAuditEventsParams{Since: &until, Until: &since})
	if err != nil || r.StatusCode() != http.StatusBadRequest || fieldErrors(t, r.Body)["since"] == "" {
		t.Errorf("since after until: %d %s", r.StatusCode(), r.Body)
	}
	if got := list(&conveyor.ListAuditEventsParams{Since: &since, Until: &since}); len(got) != 0 {
		t.Errorf("an empty range lists %d", len(got))
	}
	for name, p := range map[string]conveyor.ListAuditEventsParams{
		"action":      {Action: str("Member Added")},
		"actor":       {Actor: str("not an id")},
		"actor empty": {Actor: str("")},
	} {
		r, err := manager.ListAuditEventsWithResponse(ctx, team.Id, &p)
		if err != nil || r.StatusCode() != http.StatusBadRequest {
			t.Errorf("bad %s: %d %s", name, r.StatusCode(), r.Body)
		}
	}

	// Platform admins filter every team's events the same way.
	// The manager wrote these events; the admin's read-your-writes mark does
	// not cover them, so a replica may not have them yet.
	eventually(t, 10*time.Second, func() string {
		pr, err := admin.ListPlatformAuditEventsWithResponse(ctx, &conveyor.ListPlatformAuditEventsParams{TeamId: &team.Id, Action: str("member.added"), Actor: &managerID})
		if err != nil || pr.JSON200 == nil || ids(pr.JSON200.Items) != ids(both) {
			return fmt.Sprintf("platform filter: %v %s, want %s", err, pr.Body, ids(both))
		}
		return ""
	})
	pr, err := admin.ListPlatformAuditEventsWithResponse(ctx, &conveyor.ListPlatformAuditEventsParams{Since: &until, Until: &since})
	if err != nil || pr.StatusCode() != http.StatusBadRequest || fieldErrors(t, pr.Body)["since"] == "" {
		t.Errorf("platform since after until: %d %s", pr.StatusCode(), pr.Body)
	}

	// A viewer of the team is refused (403); someone outside it does not see it (404).
	viewer := sdk(t, e, e.Token(t, "auditf-viewer", false))
	if r, err := viewer.ListAuditEventsWithResponse(ctx, team.Id, &conveyor.ListAuditEventsParams{Action: str("member.added")}); err != nil || r.StatusCode() != http.StatusForbidden {
		t.Errorf("a viewer: %d %v", r.StatusCode(), err)
	}
	outsider := sdk(t, e, e.Token(t, "auditf-outsider", false))
	if r, err := outsider.ListAuditEventsWithResponse(ctx, team.Id, &conveyor.ListAuditEventsParams{Action: str("member.added")}); err != nil || r.StatusCode() != http.StatusNotFound {
		t.Errorf("an outsider: %d %v", r.StatusCode(), err)
	}
	if r, err := manager.ListPlatformAuditEventsWithResponse(ctx, &conveyor.ListPlatformAuditEventsParams{Action: str("member.added")}); err != nil || r.StatusCode() != http.StatusForbidden {
		t.Errorf("a manager on the platform log: %d %v", r.StatusCode(), err)
	}
}

// fieldErrors returns a problem body's field errors by pointer.
func fieldErrors(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var p conveyor.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("not a problem: %s", body)
	}
	out := map[string]string{}
	if p.Errors != nil {
		for _, f := range *p.Errors {
			out[f.Pointer] = f.Detail
		}
	}
	return out
}
