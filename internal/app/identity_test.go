package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	openapi_types "github.com/oapi-codegen/runtime/types"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// TestAPIKeyLifecycle: a manager creates keys; the secret is shown once;
// keys authenticate as X-API-Key and as Bearer with their team and role
// only; revoked keys stop at once; it is all in the audit log.
func TestAPIKeyLifecycle(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "key-admin", true))
	team, err := admin.CreateTeam(ctx, "Partners")
	if err != nil {
		t.Fatal(err)
	}
	other, err := admin.CreateTeam(ctx, "Not theirs")
	if err != nil {
		t.Fatal(err)
	}
	created, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "nightly-sync", Role: conveyor.ApiKeyCreateRoleMember})
	if err != nil || created.JSON201 == nil {
		t.Fatalf("create key: %v %s", err, created.Body)
	}
	key := created.JSON201
	if !strings.HasPrefix(key.Secret, "cvk_") || len(key.Secret) != 47 || !strings.HasPrefix(key.Secret, key.Prefix) {
		t.Fatalf("secret %q prefix %q", key.Secret, key.Prefix)
	}
	viewerKey, err := admin.CreateApiKeyWithResponse(ctx, team.Id, nil, conveyor.CreateApiKeyJSONRequestBody{Name: "dashboard", Role: conveyor.ApiKeyCreateRoleViewer})
	if err != nil || viewerKey.JSON201 == nil {
		t.Fatalf("create viewer key: %v", err)
	}

	list, err := admin.ListApiKeysWithResponse(ctx, team.Id, nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 2 {
		t.Fatalf("list keys: %v %s", err, list.Body)
	}
	if strings.Contains(string(list.Body), key.Secret) || strings.Contains(string(list.Body), "secret") {
		t.Fatal("the key list shows a secret")
	}

	for name, c := range map[string]*conveyor.Client{
		"X-API-Key":     keyClient(t, e, conveyor.WithAPIKey(key.Secret)),
		"Bearer secret": keyClient(t, e, conveyor.WithToken(key.Secret)),
	} {
		t.Run(name, func(t *testing.T) {
			me, err := c.Me(ctx)
			if err != nil || me.AuthMethod != conveyor.MeAuthMethodApiKey || len(me.Memberships) != 1 || me.Memberships[0].TeamId != team.Id {
				t.Fatalf("me = %+v, %v", me, err)
			}
			if _, err := c.UploadFile(ctx, team.Id, "from-partner.txt", strings.NewReader("partner data")); err != nil {
				t.Fatalf("a member key uploads: %v", err)
			}
			_, err = c.Team(ctx, other.Id)
			wantProblem(t, err, http.StatusNotFound)
			_, err = c.CreateTeam(ctx, "nope")
			wantProblem(t, err, http.StatusForbidden)
			r, err := c.ListApiKeysWithResponse(ctx, team.Id, nil)
			if err != nil || r.StatusCode() != http.StatusForbidden {
				t.Fatalf("a member key lists keys: %d %v", r.StatusCode(), err)
			}
		})
	}
	viewer := keyClient(t, e, conveyor.WithAPIKey(viewerKey.JSON201.Secret))
	if _, err := viewer.Team(ctx, team.Id); err != nil {
		t.Fatalf("a viewer key reads: %v", err)
	}
	_, err = viewer.UploadFile(ctx, team.Id, "x.txt", strings.NewReader("x"))
	wantProblem(t, err, http.StatusForbidden)

	if r, err := admin.RevokeApiKeyWithResponse(ctx, team.Id, key.Id, nil); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatalf("revoke: %v", err)
	}
	_, err = keyClient(t, e, conveyor.WithAPIKey(key.Secret)).Me(ctx)
	wantProblem(t, err, http.StatusUnauthorized)
	if r, err := admin.RevokeApiKeyWithResponse(ctx, team.Id, key.Id, nil); err != nil || r.StatusCode() != http.StatusNoContent {
		t.Fatal("revoking twice is a no-op")
	}

	// last_used_at is recorded off the request path.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, _ := admin.ListApiKeysWithResponse(ctx, team.Id, nil)
		var used, revoked bool
		for _, k := range l.JSON200.Items {
			if k.Id == key.Id {
				used, revoked = k.LastUsedAt != nil, k.RevokedAt != nil
			}
		}
		if used && revoked {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key: last used recorded %v, revoked %v", used, revoked)
		}
		time.Sleep(50 * time.Millisecond)
	}

	audit, err := admin.ListAuditEventsWithResponse(ctx, team.Id, nil)
	if err != nil || audit.JSON200 == nil {
		t.Fatalf("audit: %v", err)
	}
	var actions []string
	for _, ev := range audit.JSON200.Items {
		actions = append(actions, ev.Action)
		if ev.Actor.Type != conveyor.AuditActorTypeUser || ev.Actor.Name == "" || ev.RequestId == nil {
			t.Errorf("audit event %+v lacks its actor or request id", ev)
		}
	}
	want := "api_key.revoked,api_key.revoked,api_key.created,api_key.created,team.created"
	if strings.Join(actions, ",") != want {
		t.Fatalf("audit actions = %v, want %s", actions, want)
	}
}

func keyClient(t *testing.T, e interface{ Client(testing.TB) *http.Client }, opt conveyor.Option) *conveyor.Client {
	t.Helper()
	env := setup(t)
	c, err := conveyor.New(env.URL, opt, conveyor.WithDoer(env.Client(t)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMembers: invitations by email are claimed on first login; roles
// change what a member may do; a team keeps a manager; all of it audited.
func TestMembers(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "member-admin", true))
	team, err := admin.CreateTeam(ctx, "Members")
	if err != nil {
		t.Fatal(err)
	}
	// grace has never called the API: she is invited.
	inv, err := admin.AddMemberWithResponse(ctx, team.Id, nil, conveyor.AddMemberJSONRequestBody{Email: openapi_types.Email("Grace@Example.Test"), Role: conveyor.TeamRoleViewer})
	if err != nil || inv.JSON201 == nil || inv.JSON201.Status != conveyor.MemberStatusInvited {
		t.Fatalf("invite: %v %s", err, inv.Body)
	}
	grace := sdk(t, e, e.Token(t, "grace", false)) // email grace@example.test
	me, err := grace.Me(ctx)
	if err != nil || me.User.Id != inv.JSON201.UserId || len(me.Memberships) != 1 || me.Memberships[0].Role != conveyor.TeamRoleViewer {
		t.Fatalf("grace's first call did not claim the invitation: %+v %v", me, err)
	}
	if _, err := grace.Team(ctx, team.Id); err != nil {
		t.Fatalf("a viewer reads: %v", err)
	}
	_, err = grace.UploadFile(ctx, team.Id, "g.txt", strings.NewReader("g"))
	wantProblem(t, err, http.StatusForbidden)

	up, err := admin.UpdateMemberWithResponse(ctx, team.Id, me.User.Id, nil, conveyor.UpdateMemberJSONRequestBody{Role: conveyor.TeamRoleMember})
	if err != nil || up.JSON200 == nil || up.JSON200.Status != conveyor.MemberStatusActive || up.JSON200.Role != conveyor.TeamRoleMember {
		t.Fatalf("promote: %v %s", err, up.Body)
	}
	if _, err := grace.UploadFile(ctx, team.Id, "g.txt", strings.NewReader("g")); err != nil {
		t.Fatalf("a member uploads: %v", err)
	}

	// The creator is the only manager: demoting or removing them is refused.
	adminMe, _ := admin.Me(ctx)
	r, _ := admin.UpdateMemberWithResponse(ctx, team.Id, adminMe.User.Id, nil, conveyor.UpdateMemberJSONRequestBody{Role: conveyor.TeamRoleMember})
	if r.StatusCode() != http.StatusConflict {
		t.Fatalf("demoting the last manager = %d", r.StatusCode())
	}
	rm, _ := admin.RemoveMemberWithResponse(ctx, team.Id, adminMe.User.Id, nil)
	if rm.StatusCode() != http.StatusConflict {
		t.Fatalf("removing the last manager = %d", rm.StatusCode())
	}
	list, err := admin.ListMembersWithResponse(ctx, team.Id, nil)
	if err != nil || list.JSON200 == nil || len(list.JSON200.Items) != 2 {
		t.Fatalf("members: %v %s", err, list.Body)
	}
	if rm, err := admin.RemoveMemberWithResponse(ctx, team.Id, me.User.Id, nil); err != nil || rm.StatusCode() != http.StatusNoContent {
		t.Fatalf("remove: %v", err)
	}
	_, err = grace.Team(ctx, team.Id)
	wantProblem(t, err, http.StatusNotFound)
	if rm, _ := admin.RemoveMemberWithResponse(ctx, team.Id, me.User.Id, nil); rm.StatusCode() != http.StatusNotFound {
		t.Fatalf("removing a non-member = %d", rm.StatusCode())
	}

	audit, _ := admin.ListAuditEventsWithResponse(ctx, team.Id, nil)
	var actions []string
	for _, ev := range audit.JSON200.Items {
		actions = append(actions, ev.Action)
	}
	if got := strings.Join(actions, ","); got != "member.removed,member.role_changed,member.added,team.created" {
		t.Fatalf("audit = %s", got)
	}
}
