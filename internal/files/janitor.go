package files

import (
	"context"
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
}

// JanitorBlobs is what the janitor needs from object storage.
type JanitorBlobs interface {
	Delete(ctx context.Context, key string) error
	AbortMultipart(ctx context.Context, key, uploadID string) error
	List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error
}

// Janitor keeps storage and database in step: it removes the objects of
// deleted files, aborts uploads never completed, and removes objects that
// no row refers to once they are older than Grace (what an upload that
// failed between storing and recording leaves behind).
type Janitor struct {
	Store  JanitorStore
	Blobs  JanitorBlobs
	Grace  time.Duration
	Logger *slog.Logger
}

const janitorBatch = 500

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
// and no open upload refers to, and returns how many.
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
	return removed, flush()
}

// Run does all three every interval until ctx is done.
func (j *Janitor) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for name, f := range map[string]func(context.Context) (int, error){
			"remove deleted": j.RemoveDeleted, "abort expired": j.AbortExpired, "sweep orphans": j.SweepOrphans,
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
