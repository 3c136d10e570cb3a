package files

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Quotas is what the service needs to hold a team's storage for an upload
// under way (the store: see store.ReserveStorage).
type Quotas interface {
	TeamQuota(ctx context.Context, teamID uuid.UUID) (domain.Quota, error)
	// ReserveStorage holds bytes more for the upload id if the team stays
	// within maxBytes, else fails with CodeQuotaExceeded.
	ReserveStorage(ctx context.Context, teamID, id uuid.UUID, bytes, maxBytes, requested int64, expires time.Time) error
	ExtendReservation(ctx context.Context, id uuid.UUID, expires time.Time) error
	ReleaseStorage(ctx context.Context, id uuid.UUID) error
}

// Aborts marks a direct upload aborted, giving back its reservation.
type Aborts interface {
	AbortUpload(ctx context.Context, id uuid.UUID) error
}

const (
	// multipartEnvelope bounds what a multipart request carries besides
	// the file's bytes (boundaries, part headers): a request whose
	// Content-Length passes a limit by more than this is refused before
	// a byte of it is read; one within it is measured as it streams.
	multipartEnvelope = 64 << 10
	// reserveStep is how far ahead of what has streamed a stream of
	// unknown length reserves, so a large one reserves every few MiB,
	// not every read.
	reserveStep = 8 << 20
	// streamHold is how long a stream's reservation outlives its last
	// sign of life; the stream extends it every streamHold/4. A process
	// that dies leaves it to expire (the reconciler then drops it).
	streamHold = 20 * time.Minute
)

// limits returns the limits in force for teamID.
func (s *Service) limits(ctx context.Context, teamID uuid.UUID) (domain.Limits, error) {
	if s.Quotas == nil {
		return domain.Limits{MaxStoredBytes: maxInt64, MaxFileBytes: maxInt64}, nil
	}
	q, err := s.Quotas.TeamQuota(ctx, teamID)
	if err != nil {
		return domain.Limits{}, err
	}
	return q.Effective(s.Defaults), nil
}

const maxInt64 = 1<<63 - 1

// quotaOf returns the refusal details of err, when it is a quota refusal.
func quotaOf(err error) (*domain.QuotaExceeded, bool) {
	var de *domain.Error
	if errors.As(err, &de) && de.Code == domain.CodeQuotaExceeded && de.Quota != nil {
		return de.Quota, true
	}
	return nil, false
}

// streamReservation holds a team's storage for one upload streaming
// through the API, growing ahead of the bytes as they arrive: the stream
// is stopped the moment it would pass the team's quota, which concurrent
// uploads share through the store's conditional reservations.
type streamReservation struct {
	ctx       context.Context
	q         Quotas
	team, id  uuid.UUID
	max       int64 // the team's max_stored_bytes
	declared  int64 // the request's Content-Length, or -1
	held      int64
	fileMax   int64 // no point holding more than one file may take
	refreshed time.Time
}

// start makes the first reservation: what the request declared, when it
// did. A request that declares more than the room left by over the
// multipart envelope is refused before it streams.
func (r *streamReservation) start() error {
	want := int64(reserveStep)
	if r.declared >= 0 {
		want = r.declared
	}
	want = min(want, r.fileMax)
	err := r.grow(want, r.declared)
	qe, over := quotaOf(err)
	if !over {
		return err
	}
	if r.declared < 0 {
		return nil // unknown length: measure it as it streams
	}
	if room := r.max - qe.StoredBytes - qe.ReservedBytes; r.declared-multipartEnvelope > room {
		return err
	}
	// It may yet fit: hold the least it can be, and measure the rest as
	// it streams.
	if err := r.grow(min(r.declared-multipartEnvelope, r.fileMax), r.declared); err != nil {
		if _, over := quotaOf(err); !over {
			return err
		}
	}
	return nil
}

// grow holds the stream's total reservation at want bytes, at least.
func (r *streamReservation) grow(want, requested int64) error {
	if want <= r.held {
		return nil
	}
	if err := r.q.ReserveStorage(r.ctx, r.team, r.id, want-r.held, r.max, requested, time.Now().Add(streamHold)); err != nil {
		if qe, over := quotaOf(err); over && r.held > 0 {
			// Report what the others hold, not this stream's own share.
			q := *qe
			q.ReservedBytes = max(q.ReservedBytes-r.held, 0)
			return domain.ErrQuotaExceeded(q)
		}
		return err
	}
	r.held, r.refreshed = want, time.Now()
	return nil
}

// cover is called with the bytes streamed so far: it reserves ahead when
// they pass what is held (exactly what is needed when the team is near its
// quota), and keeps a long stream's reservation alive.
func (r *streamReservation) cover(n int64) error {
	if n > r.held {
		err := r.grow(min(max(n, r.held+reserveStep), max(r.fileMax, n)), n)
		if _, over := quotaOf(err); over {
			err = r.grow(n, n)
		}
		return err
	}
	if time.Since(r.refreshed) > streamHold/4 {
		if err := r.q.ExtendReservation(r.ctx, r.id, time.Now().Add(streamHold)); err != nil {
			return err
		}
		r.refreshed = time.Now()
	}
	return nil
}

// release gives back what is held, whatever happened to the request.
func (r *streamReservation) release(log func(msg string, args ...any)) {
	if r.held == 0 {
		return
	}
	if err := r.q.ReleaseStorage(context.WithoutCancel(r.ctx), r.id); err != nil && log != nil {
		log("files: release an upload's reservation; the reconciler will", "id", r.id, "err", err)
	}
}
