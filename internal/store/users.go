package store

import (
	"context"
	"errors"

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
				return []string{userKey(row.ID)}, nil
			}
			if !errors.Is(mapErr(err), errNotFound) {
				return nil, err
			}
		}
		row, err = q.UpsertUser(ctx, db.UpsertUserParams{ID: id, Issuer: u.Issuer, Subject: u.Subject, Email: u.Email, Name: u.Name})
		return []string{userKey(row.ID)}, err
	})
	return userFromRow(row), err
}

// userKey is the read-your-writes key of a user principal.
func userKey(id uuid.UUID) string { return (&domain.Principal{UserID: id}).Key() }
