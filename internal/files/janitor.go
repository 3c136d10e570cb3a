package files

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// JanitorStore is what the janitor needs from the database.
type JanitorStore interface {
	FilesToRemove(ctx context.Context, limit int) ([]domain.File, error)
	MarkObjectRemoved(ctx context.Context, id uuid.UUID) error
	ExpiredUploads(ctx context.Context, limit int) ([]domain.Upload, error)
	AbortUpload(ctx context.Context, id uuid.UUID) error
	KnownObjectKeys(ctx context.Context, keys []string) (map[string]bool, error)
	TeamsToPurge(ctx context.Context, limit int) ([]uuid.UUID, error)
	TeamOpenUploads(ctx context.Context, teamID uuid.UUID, limit int) ([]domain.Upload, error)
	PurgeTeamRows(ctx context.Context, teamID uuid.UUID) error
	MarkTeamPurged(ctx context.Context, teamID uuid.UUID) error
}

// JanitorBlobs is what the janitor needs from object storage.
type JanitorBlobs interface {
	Delete(ctx context.Context, key string) error
	AbortMultipart(ctx context.Context, key, uploadID string) error
	List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error
	ListMultipart(ctx context.Context, prefix string, fn func(key, uploadID string, initiated time.Time) error) error
}

// Janitor keeps storage and database in step: it removes the objects of
// deleted files, aborts uploads never completed, removes everything a
// deleted team left (objects first, then rows), and removes objects that
// no row refers to once they are older than Grace (what an upload that
// failed between storing and recording leaves behind).
type Janitor struct {
	Store  JanitorStore
	Blobs  JanitorBlobs
	Grace  time.Duration
	Logger *slog.Logger
}

const janitorBatch = 500

// purgeTeamsPerPass and purgeObjectsPerPass bound one purge pass; what is
// left waits for the next.
const (
	purgeTeamsPerPass   = 10
	purgeObjectsPerPass = 10 * janitorBatch
)

// TeamPrefix is where every object of a team is stored (files, job
// outputs, direct uploads).
func TeamPrefix(teamID uuid.UUID) string { return "teams/" + teamID.String() + "/" }

var errEnough = errors.New("files: enough for one pass")

// PurgeDeletedTeams removes what deleted teams left, and returns how many
// objects it removed. For each team: its open uploads and any other
// unfinished multipart upload under its prefix are aborted (their parts go
// with them), every object under its prefix is
// removed, then its rows; it is marked purged once a pass finds nothing
// left, so an object written after a pass's listing (an attempt that was
// still finishing) is removed by the next.
func (j *Janitor) PurgeDeletedTeams(ctx context.Context) (int, error) {
	ids, err := j.Store.TeamsToPurge(ctx, purgeTeamsPerPass)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, id := range ids {
		n, err := j.purgeTeam(ctx, id)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	return removed, nil
}

func (j *Janitor) purgeTeam(ctx context.Context, id uuid.UUID) (int, error) {
	ups, err := j.Store.TeamOpenUploads(ctx, id, janitorBatch)
	if err != nil {
		return 0, err
	}
	for _, u := range ups {
		if u.Multipart() {
			if err := j.Blobs.AbortMultipart(ctx, u.ObjectKey, u.S3UploadID); err != nil {
				return 0, err
			}
		}
		if err := j.Store.AbortUpload(ctx, u.ID); err != nil {
			return 0, err
		}
	}
	// Multipart uploads no row knows of: an output an attempt was still
	// writing when its job was cancelled. One younger than Grace may be an
	// upload still streaming through the API, which fails cleanly (404)
	// once it ends: it is left to end, and the team is not purged yet.
	type mp struct{ key, id string }
	var stray []mp
	young := 0
	cutoff := time.Now().Add(-j.Grace)
	err = j.Blobs.ListMultipart(ctx, TeamPrefix(id), func(key, uploadID string, initiated time.Time) error {
		if initiated.After(cutoff) {
			young++
			return nil
		}
		stray = append(stray, mp{key, uploadID})
		if len(stray) == janitorBatch {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return 0, err
	}
	for _, m := range stray {
		if err := j.Blobs.AbortMultipart(ctx, m.key, m.id); err != nil {
			return 0, err
		}
	}
	var keys []string
	err = j.Blobs.List(ctx, TeamPrefix(id), func(key string, _ time.Time) error {
		keys = append(keys, key)
		if len(keys) == purgeObjectsPerPass {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return 0, err
	}
	for i, k := range keys {
		if err := j.Blobs.Delete(ctx, k); err != nil {
			return i, err
		}
	}
	if len(ups) == janitorBatch || len(stray) == janitorBatch || len(keys) == purgeObjectsPerPass {
		return len(keys), nil // more next pass, before the rows go
	}
	if err := j.Store.PurgeTeamRows(ctx, id); err != nil {
		return len(keys), err
	}
	if len(ups) == 0 && len(stray) == 0 && young == 0 && len(keys) == 0 {
		if err := j.Store.MarkTeamPurged(ctx, id); err != nil {
			return 0, err
		}
		j.Logger.Info("janitor: a deleted team is purged", "team", id)
	}
	return len(keys), nil
}

// RemoveDeleted removes the objects of deleted files and returns how many.
func (j *Janitor) RemoveDeleted(ctx context.Context) (int, error) {
	fs, err := j.Store.FilesToRemove(ctx, janitorBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range fs {
		if err := j.Blobs.Delete(ctx, f.ObjectKey); err != nil {
			return n, err
		}
		if err := j.Store.MarkObjectRemoved(ctx, f.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// AbortExpired aborts uploads past their expiry, removing what was stored.
func (j *Janitor) AbortExpired(ctx context.Context) (int, error) {
	us, err := j.Store.ExpiredUploads(ctx, janitorBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, u := range us {
		if u.Multipart() {
			if err := j.Blobs.AbortMultipart(ctx, u.ObjectKey, u.S3UploadID); err != nil {
				return n, err
			}
		}
		if err := j.Store.AbortUpload(ctx, u.ID); err != nil {
			return n, err
		}
		if err := j.Blobs.Delete(ctx, u.ObjectKey); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// SweepOrphans removes objects under teams/ older than Grace that no file
// and no open upload refers to, aborts multipart uploads started a day
// ago (strayMultipartAge) that no open upload refers to (an output an
// attempt was writing when it was stopped), and returns how many.
func (j *Janitor) SweepOrphans(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-j.Grace)
	var batch []string
	removed := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		known, err := j.Store.KnownObjectKeys(ctx, batch)
		if err != nil {
			return err
		}
		for _, k := range batch {
			if known[k] {
				continue
			}
			if err := j.Blobs.Delete(ctx, k); err != nil {
				return err
			}
			j.Logger.Info("janitor: removed an object no row refers to", "key", k)
			removed++
		}
		batch = batch[:0]
		return nil
	}
	err := j.Blobs.List(ctx, "teams/", func(key string, modified time.Time) error {
		if modified.After(cutoff) {
			return nil
		}
		batch = append(batch, key)
		if len(batch) == janitorBatch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return removed, err
	}
	if err := flush(); err != nil {
		return removed, err
	}
	n, err := j.abortStrayMultipart(ctx)
	return removed + n, err
}

// strayMultipartAge is the least age of a multipart upload no row refers
// to before SweepOrphans aborts it (Grace, when longer): an attempt
// streams its output as one for as long as it runs, and none runs for a
// day (every processor's timeout is far shorter). A deleted team's are
// aborted after Grace alone (PurgeDeletedTeams): its jobs are cancelled.
const strayMultipartAge = 24 * time.Hour

func (j *Janitor) abortStrayMultipart(ctx context.Context) (int, error) {
	cutoff := time.Now().Add(-max(j.Grace, strayMultipartAge))
	type mp struct{ key, id string }
	var old []mp
	err := j.Blobs.ListMultipart(ctx, "teams/", func(key, uploadID string, initiated time.Time) error {
		if initiated.After(cutoff) {
			return nil
		}
		old = append(old, mp{key, uploadID})
		if len(old) == janitorBatch {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return 0, err
	}
	if len(old) == 0 {
		return 0, nil
	}
	keys := make([]string, len(old))
	for i, m := range old {
		keys[i] = m.key
	}
	known, err := j.Store.KnownObjectKeys(ctx, keys)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range old {
		if known[m.key] {
			continue
		}
		if err := j.Blobs.AbortMultipart(ctx, m.key, m.id); err != nil {
			return n, err
		}
		j.Logger.Info("janitor: aborted a multipart upload no row refers to", "key", m.key)
		n++
	}
	return n, nil
}

// Run does all four every interval until ctx is done.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for name, f := range map[string]func(context.Context) (int, error){
			"remove deleted": j.RemoveDeleted, "abort expired": j.AbortExpired, "purge deleted teams": j.PurgeDeletedTeams,
			"sweep orphans": j.SweepOrphans,
		} {
			if n, err := f(ctx); err != nil && ctx.Err() == nil {
				j.Logger.Warn("janitor: "+name, "err", err)
			} else if n > 0 {
				j.Logger.Info("janitor: "+name, "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
