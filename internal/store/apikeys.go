package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func apiKeyFromRow(r db.ApiKey) domain.APIKey {
	return domain.APIKey{ID: r.ID, TeamID: r.TeamID, Name: r.Name, Role: domain.TeamRole(r.Role), Prefix: r.Prefix,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt}
}

// CreateAPIKey stores a key (its secret only as hash) and audits it.
func (s *Store) CreateAPIKey(ctx context.Context, k domain.APIKey, hash []byte) (domain.APIKey, error) {
	var row db.ApiKey
	keyPrincipal := domain.APIKeyPrincipalKey(k.Prefix)
	err := s.writeEvents(ctx, func(q *db.Queries, log *eventLog) ([]string, error) {
		var err error
		row, err = q.CreateAPIKey(ctx, db.CreateAPIKeyParams{ID: k.ID, TeamID: k.TeamID, Name: k.Name, Role: string(k.Role),
			Prefix: k.Prefix, SecretHash: hash, CreatedBy: k.CreatedBy})
		if err != nil {
			return nil, err
		}
		log.add(domain.APIKeyEvent(domain.EventAPIKeyCreated, apiKeyFromRow(row)))
		return []string{keyPrincipal}, s.audit(ctx, q, k.TeamID, domain.Audit{Action: "api_key.created", TargetType: "api_key",
			TargetID: k.ID.String(), Details: map[string]any{"name": k.Name, "role": string(k.Role), "prefix": k.Prefix}})
	})
	return apiKeyFromRow(row), err
}

// APIKeyByPrefix returns a key and its secret's hash, or a not-found error.
// It reads as the key's own principal: creating and revoking a key move
// that principal's read position, so a key works at once after creation
// and stops at once after revocation, replicas or not.
func (s *Store) APIKeyByPrefix(ctx context.Context, prefix string) (domain.APIKey, []byte, error) {
	var row db.ApiKey
	ctx = domain.WithPrincipal(ctx, &domain.Principal{Method: domain.AuthAPIKey, APIKey: &domain.APIKeyScope{Prefix: prefix}})
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetAPIKeyByPrefix(ctx, prefix)
		return err
	})
	return apiKeyFromRow(row), row.SecretHash, notFound(err, "API key")
}

// APIKeys lists a team's keys, newest first.
func (s *Store) APIKeys(ctx context.Context, teamID uuid.UUID, page domain.PageRequest) (domain.Page[domain.APIKey], error) {
	var rows []db.ApiKey
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListAPIKeys(ctx, db.ListAPIKeysParams{TeamID: teamID, Before: page.After, Limit: int32(page.Limit + 1)})
		return err
	})
	return domain.NewPage(mapSlice(rows, apiKeyFromRow), page.Limit, func(k domain.APIKey) uuid.UUID { return k.ID }), err
}

// APIKey returns a team's key, or a not-found error.
func (s *Store) APIKey(ctx context.Context, teamID, id uuid.UUID) (domain.APIKey, error) {
	var row db.ApiKey
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetAPIKey(ctx, db.GetAPIKeyParams{TeamID: teamID, ID: id})
		return err
	})
	return apiKeyFromRow(row), notFound(err, "API key")
}

// RevokeAPIKey revokes a team's key (a no-op for a revoked one) and audits
// it. check, when not nil, sees the key as it is (locked) and may refuse.
func (s *Store) RevokeAPIKey(ctx context.Context, teamID, id uuid.UUID, check func(domain.APIKey) error) error {
	return s.writeEvents(ctx, func(q *db.Queries, log *eventLog) ([]string, error) {
		cur, err := q.LockAPIKey(ctx, db.LockAPIKeyParams{TeamID: teamID, ID: id})
		if err != nil {
			return nil, notFound(mapErr(err), "API key")
		}
		if check != nil {
			if err := check(apiKeyFromRow(cur)); err != nil {
				return nil, err
			}
		}
		row, err := q.RevokeAPIKey(ctx, db.RevokeAPIKeyParams{TeamID: teamID, ID: id})
		if err != nil {
			return nil, notFound(mapErr(err), "API key")
		}
		if cur.RevokedAt == nil {
			log.add(domain.APIKeyEvent(domain.EventAPIKeyRevoked, apiKeyFromRow(row)))
		}
		return []string{domain.APIKeyPrincipalKey(row.Prefix)}, s.audit(ctx, q, teamID, domain.Audit{Action: "api_key.revoked",
			TargetType: "api_key", TargetID: id.String(), Details: map[string]any{"name": row.Name, "prefix": row.Prefix}})
	})
}

// TouchAPIKeys records that keys were used, in one statement on the
// primary, and returns how many rows it changed: a key recorded less than a
// minute ago (by any process) is left as it is. Callers batch and throttle
// (auth.KeyUse); a failure is theirs to log, never a request's to fail.
func (s *Store) TouchAPIKeys(ctx context.Context, ids []uuid.UUID) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return db.New(s.primary.pool).TouchAPIKeys(ctx, ids)
}
