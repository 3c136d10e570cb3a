package teams_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/teams"
)

// memberStore keeps one team's members and keys in memory and applies a
// membership change as the store's transaction does: it finds the member
// (by user id, or by email for an addition), counts the managers, and
// applies what decide returns.
type memberStore struct {
	teams.Store
	team    uuid.UUID
	members []domain.Member
	keys    map[uuid.UUID]domain.APIKey
	hashes  map[uuid.UUID][]byte
}

func newMemberStore(team uuid.UUID, ms ...domain.Member) *memberStore {
	return &memberStore{team: team, members: ms, keys: map[uuid.UUID]domain.APIKey{}, hashes: map[uuid.UUID][]byte{}}
}

func (m *memberStore) ChangeMembership(_ context.Context, teamID uuid.UUID, userID *uuid.UUID, email string,
	decide func(current *domain.Member, managers int) (domain.MembershipDecision, error)) (domain.Member, error) {
	if teamID != m.team {
		return domain.Member{}, domain.Errorf(domain.CodeNotFound, "Team not found.")
	}
	managers, at := 0, -1
	for i, mem := range m.members {
		if mem.Role == domain.RoleManager {
			managers++
		}
		if (userID != nil && mem.UserID == *userID) || (userID == nil && mem.Email == email) {
			at = i
		}
	}
	var cur *domain.Member
	if at >= 0 {
		c := m.members[at]
		cur = &c
	}
	d, err := decide(cur, managers)
	if err != nil {
		return domain.Member{}, err
	}
	switch {
	case d.Remove:
		m.members = append(m.members[:at], m.members[at+1:]...)
		return *cur, nil
	case cur == nil:
		nm := domain.Member{UserID: uuid.New(), Email: email, Role: d.Role, Pending: true}
		m.members = append(m.members, nm)
		return nm, nil
	}
	m.members[at].Role = d.Role
	return m.members[at], nil
}

func (m *memberStore) CreateAPIKey(_ context.Context, k domain.APIKey, hash []byte) (domain.APIKey, error) {
	m.keys[k.ID], m.hashes[k.ID] = k, hash
	return k, nil
}

func (m *memberStore) APIKey(_ context.Context, teamID, id uuid.UUID) (domain.APIKey, error) {
	k, ok := m.keys[id]
	if !ok || teamID != m.team {
		return domain.APIKey{}, domain.Errorf(domain.CodeNotFound, "API key not found.")
	}
	return k, nil
}

func (m *memberStore) RevokeAPIKey(ctx context.Context, teamID, id uuid.UUID, check func(domain.APIKey) error) error {
	k, err := m.APIKey(ctx, teamID, id)
	if err != nil {
		return err
	}
	if err := check(k); err != nil {
		return err
	}
	delete(m.keys, id)
	return nil
}

type members struct {
	store *memberStore
	svc   *teams.Service
	team  uuid.UUID
	ann   domain.Member // the only manager
	bob   domain.Member // a member
}

func newMembers() *members {
	team := uuid.New()
	ann := domain.Member{UserID: uuid.New(), Email: "ann@example.test", Role: domain.RoleManager}
	bob := domain.Member{UserID: uuid.New(), Email: "bob@example.test", Role: domain.RoleMember}
	st := newMemberStore(team, ann, bob)
	return &members{store: st, svc: &teams.Service{Store: st, Policy: allowAll{}}, team: team, ann: ann, bob: bob}
}

var ctx = domain.WithPrincipal(context.Background(), &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC})

// TestTeamKeepsAManager: the last manager can be neither demoted nor
// removed; with a second manager either is fine.
func TestTeamKeepsAManager(t *testing.T) {
	m := newMembers()
	if _, err := m.svc.UpdateMember(ctx, m.team, m.ann.UserID, domain.RoleMember, nil); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("demoting the last manager: %v; want conflict", err)
	}
	if err := m.svc.RemoveMember(ctx, m.team, m.ann.UserID, nil); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("removing the last manager: %v; want conflict", err)
	}
	if _, err := m.svc.UpdateMember(ctx, m.team, m.ann.UserID, domain.RoleManager, nil); err != nil {
		t.Fatalf("the last manager staying manager: %v", err)
	}
	if _, err := m.svc.UpdateMember(ctx, m.team, m.bob.UserID, domain.RoleManager, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := m.svc.UpdateMember(ctx, m.team, m.ann.UserID, domain.RoleViewer, nil); err != nil {
		t.Fatalf("demoting one of two managers: %v", err)
	}
	if err := m.svc.RemoveMember(ctx, m.team, m.bob.UserID, nil); domain.ErrorCode(err) != domain.CodeConflict {
		t.Fatalf("removing the manager left: %v; want conflict", err)
	}
}

// TestChangeAMemberThatIsNot: changing or removing someone who is not in
// the team is not found; a stale If-Match is a failed precondition.
func TestChangeAMemberThatIsNot(t *testing.T) {
	m := newMembers()
	if _, err := m.svc.UpdateMember(ctx, m.team, uuid.New(), domain.RoleViewer, nil); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("a stranger: %v", err)
	}
	if err := m.svc.RemoveMember(ctx, m.team, uuid.New(), nil); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("removing a stranger: %v", err)
	}
	stale := `"AAAAAAAAAAAAAAAAAAAAAA"`
	if _, err := m.svc.UpdateMember(ctx, m.team, m.bob.UserID, domain.RoleViewer, &stale); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("a stale If-Match: %v", err)
	}
	etag := m.bob.ETag()
	got, err := m.svc.UpdateMember(ctx, m.team, m.bob.UserID, domain.RoleViewer, &etag)
	if err != nil || got.Role != domain.RoleViewer {
		t.Fatalf("with the current ETag: %+v %v", got, err)
	}
	if err := m.svc.RemoveMember(ctx, m.team, m.bob.UserID, &etag); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("removing with the ETag from before the change: %v", err)
	}
}

// TestAddMember: an email address alone (normalised to lower case) and a
// known role; someone not yet seen is invited; someone in the team gets
// the new role.
func TestAddMember(t *testing.T) {
	m := newMembers()
	for _, bad := range []string{"", "not-an-email", "Ann <ann@example.test>", "ann@example.test, bob@example.test"} {
		_, err := m.svc.AddMember(ctx, m.team, bad, domain.RoleMember)
		var de *domain.Error
		if !asError(err, &de) || de.Code != domain.CodeInvalid || de.Fields[0].Pointer != "/email" {
			t.Errorf("email %q: %v; want invalid /email", bad, err)
		}
	}
	for _, bad := range []domain.TeamRole{"", "owner", "Manager"} {
		_, err := m.svc.AddMember(ctx, m.team, "cy@example.test", bad)
		var de *domain.Error
		if !asError(err, &de) || de.Code != domain.CodeInvalid || de.Fields[0].Pointer != "/role" {
			t.Errorf("role %q: %v; want invalid /role", bad, err)
		}
	}
	if len(m.store.members) != 2 {
		t.Fatalf("refused additions changed the team: %+v", m.store.members)
	}
	cy, err := m.svc.AddMember(ctx, m.team, " Cy@Example.TEST ", domain.RoleViewer)
	if err != nil || !cy.Pending || cy.Email != "cy@example.test" || cy.Role != domain.RoleViewer {
		t.Fatalf("invited %+v %v; want pending cy@example.test, viewer", cy, err)
	}
	again, err := m.svc.AddMember(ctx, m.team, "bob@example.test", domain.RoleManager)
	if err != nil || again.UserID != m.bob.UserID || again.Role != domain.RoleManager || len(m.store.members) != 3 {
		t.Fatalf("adding bob again: %+v %v (%d members)", again, err, len(m.store.members))
	}
	if _, err := m.svc.AddMember(ctx, m.team, "ann@example.test", domain.RoleViewer); err != nil {
		t.Fatalf("demoting ann by adding her, with bob manager now: %v", err)
	}
}

// TestCreateAPIKey: keys act as members or viewers, never managers; the
// secret is shown once and only its hash is kept; the creator is recorded
// for users and not for keys.
func TestCreateAPIKey(t *testing.T) {
	m := newMembers()
	for _, role := range []domain.TeamRole{domain.RoleManager, "", "admin"} {
		_, _, err := m.svc.CreateAPIKey(ctx, m.team, "ci", role)
		var de *domain.Error
		if !asError(err, &de) || de.Code != domain.CodeInvalid || de.Fields[0].Pointer != "/role" {
			t.Errorf("role %q: %v; want invalid /role", role, err)
		}
	}
	if _, _, err := m.svc.CreateAPIKey(ctx, m.team, " \t", domain.RoleMember); domain.ErrorCode(err) != domain.CodeInvalid {
		t.Fatalf("a blank name: %v", err)
	}
	k, secret, err := m.svc.CreateAPIKey(ctx, m.team, "  CI robot ", domain.RoleViewer)
	if err != nil || k.Name != "CI robot" || k.Role != domain.RoleViewer || k.TeamID != m.team {
		t.Fatalf("key %+v %v", k, err)
	}
	if secret == "" || k.Prefix == "" || !strings.HasPrefix(secret, k.Prefix) {
		t.Fatalf("secret %q, prefix %q: the secret starts with its prefix", secret, k.Prefix)
	}
	if h := m.store.hashes[k.ID]; len(h) == 0 || bytes.Contains(h, []byte(secret)) || bytes.Equal(h, []byte(secret)) {
		t.Fatalf("kept %q for secret %q: want a hash", h, secret)
	}
	if k.CreatedBy == nil || *k.CreatedBy != domain.PrincipalFrom(ctx).UserID {
		t.Fatalf("created by %v", k.CreatedBy)
	}
	keyCtx := domain.WithPrincipal(context.Background(), &domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{ID: uuid.New(), TeamID: m.team}})
	byKey, _, err := m.svc.CreateAPIKey(keyCtx, m.team, "made by a key", domain.RoleMember)
	if err != nil || byKey.CreatedBy != nil {
		t.Fatalf("a key's key: %+v %v; want no creator", byKey, err)
	}
	_, second, _ := m.svc.CreateAPIKey(ctx, m.team, "another", domain.RoleMember)
	if second == secret {
		t.Fatal("two keys with one secret")
	}
}

// TestRevokeAPIKeyIfMatch: a revoke with a stale version fails and keeps
// the key; with the current one it goes.
func TestRevokeAPIKeyIfMatch(t *testing.T) {
	m := newMembers()
	k, _, err := m.svc.CreateAPIKey(ctx, m.team, "ci", domain.RoleMember)
	if err != nil {
		t.Fatal(err)
	}
	stale := `"AAAAAAAAAAAAAAAAAAAAAA"`
	if err := m.svc.RevokeAPIKey(ctx, m.team, k.ID, &stale); domain.ErrorCode(err) != domain.CodePreconditionFailed {
		t.Fatalf("stale: %v", err)
	}
	if _, ok := m.store.keys[k.ID]; !ok {
		t.Fatal("revoked with a stale If-Match")
	}
	etag := k.ETag()
	if err := m.svc.RevokeAPIKey(ctx, m.team, k.ID, &etag); err != nil {
		t.Fatal(err)
	}
	if err := m.svc.RevokeAPIKey(ctx, uuid.New(), k.ID, nil); domain.ErrorCode(err) != domain.CodeNotFound {
		t.Fatalf("another team's key: %v", err)
	}
}
