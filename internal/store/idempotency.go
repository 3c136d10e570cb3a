package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/idempotency"
)

func interval(d time.Duration) pgtype.Interval {
	return pgtype.Interval{Microseconds: d.Microseconds(), Valid: true}
}

// ClaimIdempotencyKey takes the key for a new request (true), or returns
// the record of the request holding it. Always on the primary: a retry
// must see the first request's claim.
func (s *Store) ClaimIdempotencyKey(ctx context.Context, principal, key, method, path string, ttl, lease time.Duration) (bool, *idempotency.Record, error) {
	var rec *idempotency.Record
	fresh := false
	err := s.write(ctx, func(q *db.Queries) error {
		_, err := q.ClaimIdempotencyKey(ctx, db.ClaimIdempotencyKeyParams{Principal: principal, Key: key, Method: method, Path: path,
			Ttl: interval(ttl), Lease: interval(lease)})
		if err == nil {
			fresh = true
			return nil
		}
		if mapErr(err) != errNotFound {
			return err
		}
		row, err := q.GetIdempotencyKey(ctx, db.GetIdempotencyKeyParams{Principal: principal, Key: key})
		if err != nil {
			return err
		}
		rec = &idempotency.Record{Method: row.Method, Path: row.Path, Fingerprint: row.Fingerprint}
		if row.Status != nil {
			r := &idempotency.Response{Status: int(*row.Status), Body: row.ResponseBody}
			if err := json.Unmarshal(row.ResponseHeaders, &r.Headers); err != nil {
				return err
			}
			rec.Response = r
		}
		return nil
	})
	return fresh, rec, err
}

// CompleteIdempotencyKey keeps the first request's response.
func (s *Store) CompleteIdempotencyKey(ctx context.Context, principal, key string, fingerprint []byte, r idempotency.Response) error {
	h, err := json.Marshal(r.Headers)
	if err != nil {
		return err
	}
	status := int32(r.Status)
	return s.write(ctx, func(q *db.Queries) error {
		return q.CompleteIdempotencyKey(ctx, db.CompleteIdempotencyKeyParams{Principal: principal, Key: key,
			Fingerprint: fingerprint, Status: &status, ResponseHeaders: h, ResponseBody: r.Body})
	})
}

// ReleaseIdempotencyKey frees a key whose request will not be replayed.
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, principal, key string) error {
	return s.write(ctx, func(q *db.Queries) error {
		return q.ReleaseIdempotencyKey(ctx, db.ReleaseIdempotencyKeyParams{Principal: principal, Key: key})
	})
}

// SweepIdempotencyKeys deletes expired keys and returns how many.
func (s *Store) SweepIdempotencyKeys(ctx context.Context) (int64, error) {
	var n int64
	err := s.write(ctx, func(q *db.Queries) (err error) {
		n, err = q.DeleteExpiredIdempotencyKeys(ctx)
		return err
	})
	return n, err
}
