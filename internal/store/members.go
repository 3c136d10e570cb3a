package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func memberFromRow(userID uuid.UUID, email, name, issuer, role string, created time.Time) domain.Member {
	return domain.Member{UserID: userID, Email: email, Name: name, Role: domain.TeamRole(role), Pending: issuer == "", CreatedAt: created}
}

// Member returns a team's member (or pending invitation), or a not-found error.
func (s *Store) Member(ctx context.Context, teamID, userID uuid.UUID) (domain.Member, error) {
	var row db.GetMemberRow
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetMember(ctx, db.GetMemberParams{TeamID: teamID, UserID: userID})
		return err
	})
	if err != nil {
		return domain.Member{}, notFound(err, "Member")
	}
	return memberFromRow(row.UserID, row.Email, row.Name, row.Issuer, row.Role, row.CreatedAt), nil
}

// Members lists a team's members and pending invitations, by user id.
func (s *Store) Members(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.Member], error) {
	var rows []db.ListMembersRow
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListMembers(ctx, db.ListMembersParams{TeamID: teamID, After: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, func(r db.ListMembersRow) domain.Member {
		return memberFromRow(r.UserID, r.Email, r.Name, r.Issuer, r.Role, r.CreatedAt)
	}), page.Limit, func(m domain.Member) uuid.UUID { return m.UserID }), err
}

// ChangeMembership changes the membership of userID in teamID (or of the
// user with email, when userID is nil: found, or invited as a pending
// user) in one transaction: the team's managers are locked, decide gets
// the current membership (nil when there is none) and the number of
// managers, and its decision is applied and audited. It returns the
// membership as it is afterwards.
func (s *Store) ChangeMembership(ctx context.Context, teamID uuid.UUID, userID *uuid.UUID, email string,
	decide func(current *domain.Member, managers int) (domain.MembershipDecision, error)) (domain.Member, error) {
	var out domain.Member
	err := s.writeEvents(ctx, func(q *db.Queries, log *eventLog) ([]string, error) {
		touched, err := s.changeMembership(ctx, q, log, teamID, userID, email, decide, &out)
		return touched, err
	})
	return out, err
}

func (s *Store) changeMembership(ctx context.Context, q *db.Queries, log *eventLog, teamID uuid.UUID, userID *uuid.UUID, email string,
	decide func(current *domain.Member, managers int) (domain.MembershipDecision, error), out *domain.Member) ([]string, error) {
	var uid uuid.UUID
	err := func() error {
		// The team first (share-locked), before any membership row: a
		// deletion waits for this change, or has happened (not found).
		if _, err := q.LockLiveTeam(ctx, teamID); err != nil {
			return notFound(mapErr(err), "Team")
		}
		managers, err := q.LockTeamManagers(ctx, teamID)
		if err != nil {
			return err
		}
		if userID != nil {
			uid = *userID
		} else {
			u, err := q.FindActiveUserByEmail(ctx, email)
			if err != nil && mapErr(err) != errNotFound {
				return err
			}
			if err != nil {
				id, err := uuid.NewV7()
				if err != nil {
					return err
				}
				if u, err = q.UpsertPendingUser(ctx, db.UpsertPendingUserParams{ID: id, Subject: "pending:" + id.String(), Email: email}); err != nil {
					return err
				}
			}
			uid = u.ID
		}
		if _, err := q.LockMember(ctx, db.LockMemberParams{TeamID: teamID, UserID: uid}); err != nil && mapErr(err) != errNotFound {
			return err
		}
		var current *domain.Member
		row, err := q.GetMember(ctx, db.GetMemberParams{TeamID: teamID, UserID: uid})
		switch {
		case err == nil:
			m := memberFromRow(row.UserID, row.Email, row.Name, row.Issuer, row.Role, row.CreatedAt)
			current = &m
		case mapErr(err) != errNotFound:
			return err
		}
		d, err := decide(current, len(managers))
		if err != nil {
			return err
		}
		audit := domain.Audit{TargetType: "user", TargetID: uid.String(), Details: map[string]any{}}
		if current != nil {
			audit.Details["previous_role"] = string(current.Role)
		}
		if d.Remove {
			if _, err := q.DeleteMembership(ctx, db.DeleteMembershipParams{TeamID: teamID, UserID: uid}); err != nil {
				return err
			}
			audit.Action = "member.removed"
			if current != nil {
				*out = *current
				log.add(domain.MemberEvent(domain.EventMemberRemoved, teamID, *current))
			}
			return s.audit(ctx, q, teamID, audit)
		}
		if err := q.UpsertMembership(ctx, db.UpsertMembershipParams{TeamID: teamID, UserID: uid, Role: string(d.Role)}); err != nil {
			return err
		}
		audit.Action, audit.Details["role"] = "member.added", string(d.Role)
		if current != nil {
			audit.Action = "member.role_changed"
		}
		if row, err = q.GetMember(ctx, db.GetMemberParams{TeamID: teamID, UserID: uid}); err != nil {
			return err
		}
		*out = memberFromRow(row.UserID, row.Email, row.Name, row.Issuer, row.Role, row.CreatedAt)
		switch {
		case current == nil:
			log.add(domain.MemberEvent(domain.EventMemberAdded, teamID, *out))
		case current.Role != out.Role:
			log.add(domain.MemberEvent(domain.EventMemberRoleChanged, teamID, *out))
		}
		if email != "" {
			audit.Details["email"] = out.Email
		}
		return s.audit(ctx, q, teamID, audit)
	}()
	return []string{userKey(uid)}, err
}
