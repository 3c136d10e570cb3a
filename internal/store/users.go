package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func userFromRow(r db.User) domain.User {
	return domain.User{ID: r.ID, Issuer: r.Issuer, Subject: r.Subject, Email: r.Email, Name: r.Name}
}

// ProvisionUser returns the user with u's issuer and subject, creating it
// (with a fresh id) or refreshing its email and name when they changed.
func (s *Store) ProvisionUser(ctx context.Context, u domain.User) (domain.User, error) {
	var found db.User
	err := s.read(ctx, func(q *db.Queries) (err error) {
		found, err = q.GetUserByIdentity(ctx, db.GetUserByIdentityParams{Issuer: u.Issuer, Subject: u.Subject})
		return err
	})
	if err == nil && found.Email == u.Email && found.Name == u.Name {
		return userFromRow(found), nil
	}
	if err != nil && !errors.Is(err, errNotFound) {
		return domain.User{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.User{}, err
	}
	var row db.User
	err = s.writeFor(ctx, func(q *db.Queries) ([]string, error) {
		var err error
		if u.Email != "" {
			// Someone invited under this email before their first call: the
			// placeholder becomes them, keeping its id and memberships.
			row, err = q.ClaimPendingUser(ctx, db.ClaimPendingUserParams{Issuer: u.Issuer, Subject: u.Subject, Name: u.Name, Email: u.Email})
			if err == nil {
				return []string{userKey(row.ID), usersKey}, nil
			}
			if !errors.Is(mapErr(err), errNotFound) {
				return nil, err
			}
		}
		row, err = q.UpsertUser(ctx, db.UpsertUserParams{ID: id, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name})
		return []string{userKey(row.ID), usersKey}, err
	})
	return userFromRow(row), err
}

// userKey is the read-your-writes key of a user principal.
func userKey(id uuid.UUID) string { return (&domain.Principal{UserID: id}).Key() }

// usersKey marks the last provisioning of any user (a first call, an
// invitation claimed, a new email or name): what platform admins read of
// users (Users, User) is read past it. A user's first call is their own
// write, which the admin's own position does not cover, so without it a
// replica that has every write of the admin's but not that one answers
// that a user the admin has just seen from another server does not exist.
const usersKey = "users"

func accountFromRow(r db.User) domain.UserAccount {
	return domain.UserAccount{User: userFromRow(r), CreatedAt: r.CreatedAt, LastSeenAt: r.LastSeenAt,
		DisabledAt: r.DisabledAt, DisabledBy: r.DisabledBy}
}

// withMemberships fills in each account's live teams and roles, read in
// one statement for all of them.
func withMemberships(ctx context.Context, q *db.Queries, accounts []domain.UserAccount) error {
	if len(accounts) == 0 {
		return nil
	}
	ids := make([]uuid.UUID, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	rows, err := q.ListMembershipsForUsers(ctx, ids)
	if err != nil {
		return err
	}
	byUser := map[uuid.UUID][]domain.Membership{}
	for _, r := range rows {
		byUser[r.UserID] = append(byUser[r.UserID], domain.Membership{TeamID: r.TeamID, TeamName: r.TeamName, Role: domain.TeamRole(r.Role)})
	}
	for i := range accounts {
		accounts[i].Memberships = byUser[accounts[i].ID]
	}
	return nil
}

// Users lists everyone who has called the API, newest first, with their
// teams (two statements a page, whatever its size).
func (s *Store) Users(ctx context.Context, page domain.PageRequest) (domain.Page[domain.UserAccount], error) {
	var out []domain.UserAccount
	err := s.readPast(ctx, []string{usersKey}, func(q *db.Queries) error {
		rows, err := q.ListActiveUsers(ctx, db.ListActiveUsersParams{Before: page.After, Limit: int32(page.Limit + 1)})
		if err != nil {
			return err
		}
		out = mapSlice(rows, accountFromRow)
		return withMemberships(ctx, q, out[:min(len(out), page.Limit)])
	})
	return domain.NewPage(out, page.Limit, func(a domain.UserAccount) uuid.UUID { return a.ID }), err
}

// User returns someone who has called the API, with their teams, or a
// not-found error.
func (s *Store) User(ctx context.Context, id uuid.UUID) (domain.UserAccount, error) {
	var out domain.UserAccount
	err := s.readPast(ctx, []string{usersKey}, func(q *db.Queries) error {
		row, err := q.GetActiveUser(ctx, id)
		if err != nil {
			return err
		}
		accounts := []domain.UserAccount{accountFromRow(row)}
		if err := withMemberships(ctx, q, accounts); err != nil {
			return err
		}
		out = accounts[0]
		return nil
	})
	return out, notFound(err, "User")
}

// TouchUser records that a user called the API (at most once a minute,
// by the statement's own condition), without failing the caller: a down
// primary must not break reads.
func (s *Store) TouchUser(ctx context.Context, id uuid.UUID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := db.New(s.primary.pool).TouchUser(ctx, id); err != nil {
		s.opts.Logger.DebugContext(ctx, "store: record that a user was seen", "err", err)
	}
}

// SetUserDisabled disables (disabled) or enables a user in one
// transaction: the user's row is locked, check sees the user as they are
// and may refuse, then the change is made (a user disabled already keeps
// when and by whom) and audited as user.disabled or user.enabled, a
// platform event of no team. It returns the user as they now are, or a
// not-found error.
func (s *Store) SetUserDisabled(ctx context.Context, id uuid.UUID, disabled bool, check func(current domain.UserAccount) error) (domain.UserAccount, error) {
	var out domain.UserAccount
	err := s.writeFor(ctx, func(q *db.Queries) ([]string, error) {
		row, err := q.LockActiveUserForUpdate(ctx, id)
		if err != nil {
			return nil, notFound(mapErr(err), "User")
		}
		cur := []domain.UserAccount{accountFromRow(row)}
		if err := withMemberships(ctx, q, cur); err != nil {
			return nil, err
		}
		if check != nil {
			if err := check(cur[0]); err != nil {
				return nil, err
			}
		}
		var by *uuid.UUID
		if p := domain.PrincipalFrom(ctx); p != nil && p.APIKey == nil && p.UserID != uuid.Nil {
			by = &p.UserID
		}
		row, err = q.SetUserDisabled(ctx, db.SetUserDisabledParams{ID: id, Disabled: disabled, By: by})
		if err != nil {
			return nil, err
		}
		out = accountFromRow(row)
		out.Memberships = cur[0].Memberships
		action := "user.enabled"
		if disabled {
			action = "user.disabled"
		}
		return []string{userKey(id)}, s.audit(ctx, q, uuid.Nil, domain.Audit{Action: action, TargetType: "user", TargetID: id.String(),
			Details: map[string]any{"email": row.Email, "name": row.Name, "was_disabled": cur[0].Disabled()}})
	})
	return out, err
}

// DisabledUsers returns every disabled user's id, read from the primary
// (a replica may not have replayed a disable yet) or, while the primary
// is down (when nobody can be disabled or enabled), from a replica.
func (s *Store) DisabledUsers(ctx context.Context) ([]uuid.UUID, error) {
	var ids []uuid.UUID
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		ids, err = q.ListDisabledUserIDs(ctx)
		return err
	})
	if err != nil && len(s.replicas) > 0 {
		err = s.readFrom(ctx, s.candidates(0), func(q *db.Queries) (err error) {
			ids, err = q.ListDisabledUserIDs(ctx)
			return err
		})
	}
	return ids, err
}

// UserNotifications returns a person's notification settings (past the
// caller's own writes), or not found.
func (s *Store) UserNotifications(ctx context.Context, id uuid.UUID) (domain.NotificationSettings, error) {
	var on bool
	err := s.readPast(ctx, []string{userKey(id)}, func(q *db.Queries) (err error) {
		on, err = q.GetUserNotifications(ctx, id)
		return err
	})
	return domain.NotificationSettings{JobFailedEmail: on}, notFound(err, "User")
}

// UpdateUserNotifications changes the settings u names and returns them
// all, or not found.
func (s *Store) UpdateUserNotifications(ctx context.Context, id uuid.UUID, u domain.NotificationUpdate) (domain.NotificationSettings, error) {
	var on bool
	err := s.writeFor(ctx, func(q *db.Queries) (_ []string, err error) {
		on, err = q.UpdateUserNotifications(ctx, db.UpdateUserNotificationsParams{ID: id, JobFailedEmail: u.JobFailedEmail})
		return []string{userKey(id)}, notFound(mapErr(err), "User")
	})
	return domain.NotificationSettings{JobFailedEmail: on}, err
}
