// Package teams holds the rules about teams (tenants) and the caller's view
// of them.
package teams

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Store is what the service needs from the database.
type Store interface {
	CreateTeam(ctx context.Context, t domain.Team, creator *uuid.UUID) (domain.Team, error)
	Team(ctx context.Context, id uuid.UUID) (domain.Team, error)
	TeamWithUsage(ctx context.Context, id uuid.UUID) (domain.Team, error)
	WithUsage(ctx context.Context, teams []domain.Team) error
	Teams(ctx context.Context, page domain.PageRequest) (domain.Page[domain.Team], error)
	TeamsOf(ctx context.Context, userID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Team], error)
	Memberships(ctx context.Context, userID uuid.UUID) ([]domain.Membership, error)
	Members(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Member], error)
	ChangeMembership(ctx context.Context, teamID uuid.UUID, userID *uuid.UUID, email string,
		decide func(current *domain.Member, managers int) (domain.MembershipDecision, error)) (domain.Member, error)
	CreateAPIKey(ctx context.Context, k domain.APIKey, hash []byte) (domain.APIKey, error)
	APIKeys(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.APIKey], error)
	APIKey(ctx context.Context, teamID, id uuid.UUID) (domain.APIKey, error)
	RevokeAPIKey(ctx context.Context, teamID, id uuid.UUID, check func(domain.APIKey) error) error
	Member(ctx context.Context, teamID, userID uuid.UUID) (domain.Member, error)
	AuditEvents(ctx context.Context, teamID uuid.UUID, f domain.AuditFilter, page domain.PageRequest) (domain.Page[domain.AuditEvent], error)
	UpdateTeam(ctx context.Context, id uuid.UUID, decide func(current domain.Team) (domain.TeamSettings, error)) (domain.Team, error)
	DeleteTeam(ctx context.Context, id uuid.UUID, check func(current domain.Team) error) ([]domain.Job, error)
	AllAuditEvents(ctx context.Context, teamID *uuid.UUID, f domain.AuditFilter, page domain.PageRequest) (domain.Page[domain.AuditEvent], error)
}

// Jobs follows up jobs a change to the team cancelled (jobs.Service).
type Jobs interface {
	Cancelled(ctx context.Context, js []domain.Job)
}

// Service implements the team rules. Each method that serves an API
// operation first checks the caller against the role the operation
// declares (Policy), whether or not the HTTP layer did; without a Policy
// everything is refused.
type Service struct {
	Store  Store
	Policy domain.Policy
	Jobs   Jobs // optional: announces and stops the jobs a deletion cancels
	// Streams is told of a deletion (optional), to end the team's event
	// streams on every API process before Delete returns.
	Streams  Streams
	Defaults domain.QuotaDefaults // the limits of a team that has none of its own
}

// withLimits fills in the limits in force for t.
func (s *Service) withLimits(t domain.Team) domain.Team {
	t.Limits = t.Quota.Effective(s.Defaults)
	return t
}

func (s *Service) withLimitsErr(t domain.Team, err error) (domain.Team, error) {
	if err != nil {
		return domain.Team{}, err
	}
	return s.withLimits(t), nil
}

// Streams ends a deleted team's event streams everywhere (events.Control).
type Streams interface {
	TeamDeleted(ctx context.Context, id uuid.UUID) error
}

// allow refuses the caller unless the role table lets it call op (in
// teamID, nil outside a team).
func (s *Service) allow(ctx context.Context, op string, teamID *uuid.UUID) error {
	return domain.Allow(ctx, s.Policy, op, teamID)
}

// TeamChange is a change to a team's settings; a nil field stays as it is.
type TeamChange struct {
	Name  *string
	Quota *domain.QuotaChange
}

// Update changes a team's settings, if the team is still at version
// ifMatch: If-Match is required, and only the settings half of the ETag
// must match (usage may have moved since the read). Its managers and
// platform admins may rename it (the role updateTeam declares); only
// platform admins may change its quota (the role its quota field
// declares), and a change that includes a quota is refused whole
// (CodeForbidden) for anyone else.
func (s *Service) Update(ctx context.Context, id uuid.UUID, ch TeamChange, ifMatch *string) (domain.Team, error) {
	if err := s.allow(ctx, "updateTeam", &id); err != nil {
		return domain.Team{}, err
	}
	if ch.Quota != nil {
		// The role the quota field itself declares (x-required-role).
		if err := s.allow(ctx, "updateTeam.quota", nil); err != nil {
			return domain.Team{}, err
		}
	}
	var name string
	if ch.Name != nil {
		var err error
		if name, err = domain.CleanLabel(*ch.Name, 100, "/name"); err != nil {
			return domain.Team{}, err
		}
	}
	if ch.Quota != nil {
		if ch.Quota.Empty() {
			return domain.Team{}, &domain.Error{Code: domain.CodeInvalid, Message: "quota names no limit to change.",
				Fields: []domain.FieldError{{Pointer: "/quota", Detail: "empty"}}}
		}
		if _, err := ch.Quota.Apply(domain.Quota{}); err != nil {
			return domain.Team{}, err
		}
	}
	if ifMatch == nil {
		return domain.Team{}, (domain.Team{}).CheckIfMatch(nil)
	}
	return s.withLimitsErr(s.Store.UpdateTeam(ctx, id, func(cur domain.Team) (domain.TeamSettings, error) {
		next := domain.TeamSettings{Name: cur.Name, Quota: cur.Quota}
		if err := cur.CheckIfMatch(ifMatch); err != nil {
			return next, err
		}
		if ch.Name != nil {
			next.Name = name
		}
		if ch.Quota != nil {
			var err error
			if next.Quota, err = ch.Quota.Apply(cur.Quota); err != nil {
				return next, err
			}
		}
		return next, nil
	}))
}

// Create creates a team named name; the caller becomes its manager.
func (s *Service) Create(ctx context.Context, name string) (domain.Team, error) {
	if err := s.allow(ctx, "createTeam", nil); err != nil {
		return domain.Team{}, err
	}
	name, err := domain.CleanLabel(name, 100, "/name")
	if err != nil {
		return domain.Team{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.Team{}, err
	}
	return s.withLimitsErr(s.Store.CreateTeam(ctx, domain.Team{ID: id, Name: name}, domain.PrincipalFrom(ctx).CreatedBy()))
}

// Get returns a team with its usage and the limits in force.
func (s *Service) Get(ctx context.Context, id uuid.UUID) (domain.Team, error) {
	if err := s.allow(ctx, "getTeam", &id); err != nil {
		return domain.Team{}, err
	}
	return s.withLimitsErr(s.Store.TeamWithUsage(ctx, id))
}

// List returns the teams the caller may see, each with its usage: every
// team for platform admins, their own teams for everyone else.
func (s *Service) List(ctx context.Context, page domain.PageRequest) (domain.Page[domain.Team], error) {
	if err := s.allow(ctx, "listTeams", nil); err != nil {
		return domain.Page[domain.Team]{}, err
	}
	p := domain.PrincipalFrom(ctx)
	if p == nil {
		return domain.Page[domain.Team]{}, domain.Errorf(domain.CodeUnauthenticated, "Authentication is required.")
	}
	var (
		out domain.Page[domain.Team]
		err error
	)
	switch {
	case p.APIKey != nil:
		if page.After != nil {
			return domain.Page[domain.Team]{}, nil
		}
		t, err := s.Store.TeamWithUsage(ctx, p.APIKey.TeamID)
		if err != nil {
			return domain.Page[domain.Team]{}, err
		}
		return domain.Page[domain.Team]{Items: []domain.Team{s.withLimits(t)}}, nil
	case p.PlatformAdmin:
		out, err = s.Store.Teams(ctx, page)
	default:
		out, err = s.Store.TeamsOf(ctx, p.UserID, page)
	}
	if err != nil {
		return domain.Page[domain.Team]{}, err
	}
	for i := range out.Items {
		out.Items[i] = s.withLimits(out.Items[i])
	}
	return out, s.Store.WithUsage(ctx, out.Items)
}

// Me returns the caller and their memberships.
func (s *Service) Me(ctx context.Context) (*domain.Principal, []domain.Membership, error) {
	if err := s.allow(ctx, "getMe", nil); err != nil {
		return nil, nil, err
	}
	p := domain.PrincipalFrom(ctx)
	if p == nil {
		return nil, nil, domain.Errorf(domain.CodeUnauthenticated, "Authentication is required.")
	}
	if p.APIKey != nil {
		t, err := s.Store.Team(ctx, p.APIKey.TeamID)
		if err != nil {
			return nil, nil, err
		}
		return p, []domain.Membership{{TeamID: t.ID, TeamName: t.Name, Role: p.APIKey.Role}}, nil
	}
	ms, err := s.Store.Memberships(ctx, p.UserID)
	return p, ms, err
}

// Delete deletes a team, for platform admins (the role deleteTeam
// declares), if it is still at version ifMatch (nil: any; only the
// settings half of the ETag counts). At once, and on every API process:
// the team answers 404, its memberships and invitations grant nothing,
// its keys stop, and its queued and running jobs are cancelled (running
// attempts are told to stop). Its objects and rows are removed by the
// worker in the background; its audit trail stays (AllAuditEvents).
func (s *Service) Delete(ctx context.Context, id uuid.UUID, ifMatch *string) error {
	if err := s.allow(ctx, "deleteTeam", &id); err != nil {
		return err
	}
	cancelled, err := s.Store.DeleteTeam(ctx, id, func(cur domain.Team) error {
		if ifMatch == nil {
			return nil
		}
		return cur.CheckIfMatch(ifMatch)
	})
	if err != nil {
		return err
	}
	if s.Jobs != nil {
		s.Jobs.Cancelled(ctx, cancelled)
	}
	if s.Streams != nil {
		// A process not reached ends the team's streams when it
		// resubscribes (Streams logs it); a reconnect is 404 anyway.
		_ = s.Streams.TeamDeleted(ctx, id)
	}
	return nil
}

// AllAuditEvents lists, for platform admins, the audit events of every
// team or of one (teamID), deleted teams included, newest first.
func (s *Service) AllAuditEvents(ctx context.Context, teamID *uuid.UUID, f domain.AuditFilter, page domain.PageRequest) (domain.Page[domain.AuditEvent], error) {
	if err := s.allow(ctx, "listPlatformAuditEvents", nil); err != nil {
		return domain.Page[domain.AuditEvent]{}, err
	}
	if err := checkAuditFilter(f); err != nil {
		return domain.Page[domain.AuditEvent]{}, err
	}
	return s.Store.AllAuditEvents(ctx, teamID, f, page)
}
