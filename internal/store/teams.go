package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func teamFromRow(r db.Team) domain.Team {
	return domain.Team{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt,
		Quota: domain.Quota{MaxStoredBytes: r.MaxStoredBytes, MaxFileBytes: r.MaxFileBytes, MaxRunningJobs: r.MaxRunningJobs}}
}

func usageFromRow(r db.TeamUsage) domain.TeamUsage {
	return domain.TeamUsage{StoredBytes: r.FileBytes + r.OutputBytes, FileCount: r.FileCount,
		Jobs: domain.JobCounts{Queued: r.JobsQueued, Running: r.JobsRunning, Succeeded: r.JobsSucceeded,
			Failed: r.JobsFailed, Cancelled: r.JobsCancelled}}
}

func teamID(t domain.Team) uuid.UUID { return t.ID }

// CreateTeam stores a new team; creator, when not nil, becomes its manager.
func (s *Store) CreateTeam(ctx context.Context, t domain.Team, creator *uuid.UUID) (domain.Team, error) {
	var row db.Team
	err := s.write(ctx, func(q *db.Queries) (err error) {
		if row, err = q.CreateTeam(ctx, db.CreateTeamParams{ID: t.ID, Name: t.Name}); err != nil {
			return err
		}
		if creator != nil {
			err := q.UpsertMembership(ctx, db.UpsertMembershipParams{TeamID: t.ID, UserID: *creator, Role: string(domain.RoleManager)})
			if err != nil {
				return err
			}
		}
		return s.audit(ctx, q, t.ID, domain.Audit{Action: "team.created", TargetType: "team", TargetID: t.ID.String(),
			Details: map[string]any{"name": t.Name}})
	})
	return teamFromRow(row), err
}

// Team returns the team with id, or a not-found error.
func (s *Store) Team(ctx context.Context, id uuid.UUID) (domain.Team, error) {
	var row db.Team
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetTeam(ctx, id)
		return err
	})
	return teamFromRow(row), notFound(err, "Team")
}

// TeamWithUsage returns the team with id and its usage, read in one
// statement, or a not-found error.
func (s *Store) TeamWithUsage(ctx context.Context, id uuid.UUID) (domain.Team, error) {
	var r db.GetTeamWithUsageRow
	err := s.read(ctx, func(q *db.Queries) (err error) {
		r, err = q.GetTeamWithUsage(ctx, id)
		return err
	})
	if err != nil {
		return domain.Team{}, notFound(err, "Team")
	}
	t := teamFromRow(db.Team{ID: r.ID, Name: r.Name, CreatedAt: r.CreatedAt,
		MaxStoredBytes: r.MaxStoredBytes, MaxFileBytes: r.MaxFileBytes, MaxRunningJobs: r.MaxRunningJobs})
	t.Usage = usageFromRow(db.TeamUsage{TeamID: r.ID, FileCount: r.FileCount, FileBytes: r.FileBytes, OutputBytes: r.OutputBytes,
		JobsQueued: r.JobsQueued, JobsRunning: r.JobsRunning, JobsSucceeded: r.JobsSucceeded, JobsFailed: r.JobsFailed,
		JobsCancelled: r.JobsCancelled})
	return t, nil
}

// WithUsage fills in the usage of each team, read in one statement for
// all of them; a team deleted meanwhile keeps a zero usage.
func (s *Store) WithUsage(ctx context.Context, teams []domain.Team) error {
	if len(teams) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(teams))
	for i, t := range teams {
		ids[i] = t.ID
	}
	var rows []db.TeamUsage
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.TeamUsage(ctx, ids)
		return err
	})
	if err != nil {
		return err
	}
	byTeam := make(map[uuid.UUID]domain.TeamUsage, len(rows))
	for _, r := range rows {
		byTeam[r.TeamID] = usageFromRow(r)
	}
	for i := range teams {
		teams[i].Usage = byTeam[teams[i].ID]
	}
	return nil
}

// Teams lists every team, newest first.
func (s *Store) Teams(ctx context.Context, page domain.PageRequest) (domain.Page[domain.Team], error) {
	var rows []db.Team
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListTeams(ctx, db.ListTeamsParams{Before: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, teamFromRow), page.Limit, teamID), err
}

// TeamsOf lists the teams userID belongs to, newest first.
func (s *Store) TeamsOf(ctx context.Context, userID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Team], error) {
	var rows []db.Team
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListTeamsForUser(ctx, db.ListTeamsForUserParams{UserID: userID, Before: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, teamFromRow), page.Limit, teamID), err
}

// MembershipRole returns userID's role in teamID, or a not-found error when
// the user is not a member.
func (s *Store) MembershipRole(ctx context.Context, teamID, userID uuid.UUID) (domain.TeamRole, error) {
	var role string
	err := s.read(ctx, func(q *db.Queries) (err error) {
		role, err = q.GetMembershipRole(ctx, db.GetMembershipRoleParams{TeamID: teamID, UserID: userID})
		return err
	})
	return domain.TeamRole(role), notFound(err, "Team")
}

// Memberships lists userID's teams and roles.
func (s *Store) Memberships(ctx context.Context, userID uuid.UUID) ([]domain.Membership, error) {
	var rows []db.ListMembershipsForUserRow
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListMembershipsForUser(ctx, userID)
		return err
	})
	return mapSlice(rows, func(r db.ListMembershipsForUserRow) domain.Membership {
		return domain.Membership{TeamID: r.TeamID, TeamName: r.TeamName, Role: domain.TeamRole(r.Role)}
	}), err
}

// SetMembership gives userID the role in teamID.
func (s *Store) SetMembership(ctx context.Context, teamID, userID uuid.UUID, role domain.TeamRole) error {
	return s.write(ctx, func(q *db.Queries) error {
		return q.UpsertMembership(ctx, db.UpsertMembershipParams{TeamID: teamID, UserID: userID, Role: string(role)})
	})
}

func mapSlice[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// teamUsageIn reads a team's usage in the transaction of q.
func teamUsageIn(ctx context.Context, q *db.Queries, id uuid.UUID) (domain.TeamUsage, error) {
	rows, err := q.TeamUsage(ctx, []uuid.UUID{id})
	if err != nil || len(rows) == 0 {
		return domain.TeamUsage{}, err
	}
	return usageFromRow(rows[0]), nil
}

// UpdateTeam changes a live team's settings in one transaction: the team
// is locked, decide sees it as it is (with its usage) and returns its new
// settings or refuses, and each change is applied and audited (a rename
// as team.renamed, a new quota as team.quota_changed). It returns the team
// as it is afterwards, with its usage.
func (s *Store) UpdateTeam(ctx context.Context, id uuid.UUID, decide func(current domain.Team) (domain.TeamSettings, error)) (domain.Team, error) {
	var out domain.Team
	err := s.write(ctx, func(q *db.Queries) error {
		row, err := q.LockLiveTeamForUpdate(ctx, id)
		if err != nil {
			return notFound(mapErr(err), "Team")
		}
		cur := teamFromRow(row)
		if cur.Usage, err = teamUsageIn(ctx, q, id); err != nil {
			return err
		}
		next, err := decide(cur)
		if err != nil {
			return err
		}
		out = cur
		if next.Name != cur.Name {
			if row, err = q.RenameTeam(ctx, db.RenameTeamParams{ID: id, Name: next.Name}); err != nil {
				return notFound(mapErr(err), "Team")
			}
			out.Name = row.Name
			if err := s.audit(ctx, q, id, domain.Audit{Action: "team.renamed", TargetType: "team", TargetID: id.String(),
				Details: map[string]any{"previous_name": cur.Name, "name": next.Name}}); err != nil {
				return err
			}
		}
		if !next.Quota.Equal(cur.Quota) {
			q2 := next.Quota
			if row, err = q.SetTeamQuota(ctx, db.SetTeamQuotaParams{ID: id, MaxStoredBytes: q2.MaxStoredBytes,
				MaxFileBytes: q2.MaxFileBytes, MaxRunningJobs: q2.MaxRunningJobs}); err != nil {
				return notFound(mapErr(err), "Team")
			}
			out.Quota = teamFromRow(row).Quota
			if err := s.audit(ctx, q, id, domain.Audit{Action: "team.quota_changed", TargetType: "team", TargetID: id.String(),
				Details: map[string]any{"previous": cur.Quota.Audit(), "quota": out.Quota.Audit()}}); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}
