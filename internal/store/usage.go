package store

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

// Storage quotas are enforced on per-team counters (team_usage_counters,
// kept exact by triggers in the transaction of every file and output
// change): an upload first reserves its bytes with one conditional update
// of the team's counter row, which orders concurrent uploads, so two can
// never both take the same room. The reservation is given back, or turned
// into the file's bytes in the transaction that records the file. One
// left by a process that died expires, and the reconciler (Reconcile)
// drops it and recounts the team from its rows.

// quotaExceeded reads where the team stands and returns the refusal.
func quotaExceeded(ctx context.Context, q *db.Queries, teamID uuid.UUID, limit, requested int64) error {
	c, err := q.GetUsageCounters(ctx, teamID)
	if err != nil && mapErr(err) != errNotFound {
		return err
	}
	return domain.ErrQuotaExceeded(domain.QuotaExceeded{Limit: limit, StoredBytes: c.FileBytes + c.OutputBytes,
		ReservedBytes: c.ReservedBytes, RequestedBytes: requested})
}

// TeamQuota returns a live team's own quota (nil limits: the defaults),
// from the primary: an upload is checked against the latest setting.
func (s *Store) TeamQuota(ctx context.Context, teamID uuid.UUID) (domain.Quota, error) {
	var r db.GetTeamQuotaRow
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		r, err = q.GetTeamQuota(ctx, teamID)
		return err
	})
	return domain.Quota{MaxStoredBytes: r.MaxStoredBytes, MaxFileBytes: r.MaxFileBytes, MaxRunningJobs: r.MaxRunningJobs}, notFound(err, "Team")
}

// ReserveStorage holds bytes more of teamID's storage for the upload id
// until expires (a second call for the same id adds to it and extends
// it), if the team's stored and reserved bytes stay within maxBytes.
// Otherwise it holds nothing and returns a CodeQuotaExceeded error
// carrying where the team stands (requested: the upload's size, if known).
func (s *Store) ReserveStorage(ctx context.Context, teamID, id uuid.UUID, bytes, maxBytes, requested int64, expires time.Time) error {
	return s.write(ctx, func(q *db.Queries) error {
		_, err := q.ReserveStorage(ctx, db.ReserveStorageParams{TeamID: teamID, Bytes: bytes, MaxBytes: maxBytes})
		if mapErr(err) == errNotFound {
			return quotaExceeded(ctx, q, teamID, maxBytes, requested)
		}
		if err != nil {
			return err
		}
		return q.HoldReservation(ctx, db.HoldReservationParams{ID: id, TeamID: teamID, Bytes: bytes, ExpiresAt: expires})
	})
}

// ExtendReservation keeps the upload id's reservation until expires.
func (s *Store) ExtendReservation(ctx context.Context, id uuid.UUID, expires time.Time) error {
	return s.write(ctx, func(q *db.Queries) error {
		return q.ExtendReservation(ctx, db.ExtendReservationParams{ID: id, ExpiresAt: expires})
	})
}

// ReleaseStorage gives back what the upload id holds; nothing held is no
// error.
func (s *Store) ReleaseStorage(ctx context.Context, id uuid.UUID) error {
	return s.write(ctx, func(q *db.Queries) error { return releaseIn(ctx, q, id) })
}

func releaseIn(ctx context.Context, q *db.Queries, id uuid.UUID) error {
	r, err := q.TakeReservation(ctx, id)
	if mapErr(err) == errNotFound {
		return nil
	}
	if err != nil {
		return err
	}
	return q.UnreserveStorage(ctx, db.UnreserveStorageParams{TeamID: r.TeamID, Bytes: r.Bytes})
}

// convertIn turns the reservation of the upload id into a file of size
// bytes of teamID, in the transaction that is about to record the file:
// the reservation is given back (the file's row then counts), and a file
// larger than what was held (its reservation expired) must still fit
// within maxBytes, else CodeQuotaExceeded.
func convertIn(ctx context.Context, q *db.Queries, teamID, id uuid.UUID, size, maxBytes int64) error {
	var held int64
	r, err := q.TakeReservation(ctx, id)
	switch mapErr(err) {
	case nil:
		held = r.Bytes
	case errNotFound:
	default:
		return err
	}
	_, err = q.ConvertReservation(ctx, db.ConvertReservationParams{Held: held, TeamID: teamID, Size: size, MaxBytes: maxBytes})
	if mapErr(err) == errNotFound {
		return quotaExceeded(ctx, q, teamID, maxBytes, size)
	}
	return err
}

// UsageCounters returns teamID's counters as they stand, from the primary.
func (s *Store) UsageCounters(ctx context.Context, teamID uuid.UUID) (domain.UsageCounters, error) {
	var c db.TeamUsageCounter
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		c, err = q.GetUsageCounters(ctx, teamID)
		return err
	})
	return domain.UsageCounters{FileCount: c.FileCount, FileBytes: c.FileBytes, OutputBytes: c.OutputBytes, ReservedBytes: c.ReservedBytes},
		notFound(err, "Team")
}

// ReconcileUsage recounts, in one transaction, the counters of up to limit
// live teams after the id after (nil: from the first): their rows are
// locked first, reservations past their expiry are dropped, then every
// counter is set to what the rows say. It returns the teams whose counters
// had drifted, and the last team id it looked at (nil when none was left).
func (s *Store) ReconcileUsage(ctx context.Context, after *uuid.UUID, limit int) ([]domain.UsageDrift, *uuid.UUID, error) {
	var (
		drift []domain.UsageDrift
		last  *uuid.UUID
	)
	err := s.write(ctx, func(q *db.Queries) error {
		drift, last = nil, nil
		ids, err := q.ListLiveTeamIDs(ctx, db.ListLiveTeamIDsParams{After: after, Limit: int32(limit)})
		if err != nil || len(ids) == 0 {
			return err
		}
		last = &ids[len(ids)-1]
		if _, err := q.LockUsageCounters(ctx, ids); err != nil {
			return err
		}
		if _, err := q.DropStaleReservations(ctx, ids); err != nil {
			return err
		}
		rows, err := q.RecountUsage(ctx, ids)
		for _, r := range rows {
			drift = append(drift, domain.UsageDrift{TeamID: r.TeamID,
				Was: domain.UsageCounters{FileCount: r.WasFileCount, FileBytes: r.WasFileBytes, OutputBytes: r.WasOutputBytes, ReservedBytes: r.WasReservedBytes},
				Now: domain.UsageCounters{FileCount: r.FileCount, FileBytes: r.FileBytes, OutputBytes: r.OutputBytes, ReservedBytes: r.ReservedBytes}})
		}
		return err
	})
	return drift, last, err
}
