package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func fileFromRow(r db.File) domain.File {
	return domain.File{ID: r.ID, TeamID: r.TeamID, Name: r.Name, Size: r.Size, SHA256: r.Sha256,
		ContentType: r.ContentType, ObjectKey: r.ObjectKey, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt}
}

func fileID(f domain.File) uuid.UUID { return f.ID }

// CreateFile records a stored object as a file, turning the storage its
// upload reserved under the file's id into the file's bytes; a file larger
// than its reservation must still fit within maxStored (CodeQuotaExceeded).
func (s *Store) CreateFile(ctx context.Context, f domain.File, maxStored int64) (domain.File, error) {
	var row db.File
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		if err := convertIn(ctx, q, f.TeamID, f.ID, f.Size, maxStored); err != nil {
			return err
		}
		row, err = q.CreateFile(ctx, db.CreateFileParams{ID: f.ID, TeamID: f.TeamID, Name: f.Name, Size: f.Size,
			Sha256: f.SHA256, ContentType: f.ContentType, ObjectKey: f.ObjectKey, CreatedBy: f.CreatedBy})
		if err == nil {
			log.add(domain.FileEvent(domain.EventFileCreated, fileFromRow(row)))
		}
		return err
	})
	return fileFromRow(row), err
}

// File returns a team's file, or a not-found error.
func (s *Store) File(ctx context.Context, teamID, id uuid.UUID) (domain.File, error) {
	var row db.File
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetFile(ctx, db.GetFileParams{TeamID: teamID, ID: id})
		return err
	})
	return fileFromRow(row), notFound(err, "File")
}

// FileByID returns a file from the primary, for workers; a deleted file is
// not found.
func (s *Store) FileByID(ctx context.Context, id uuid.UUID) (domain.File, error) {
	var row db.File
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetFileByID(ctx, id)
		if err == nil && row.DeletedAt != nil {
			return errNotFound // deleted: gone for workers too
		}
		return err
	})
	return fileFromRow(row), notFound(err, "File")
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Files lists a team's files, newest first, filtered.
func (s *Store) Files(ctx context.Context, teamID uuid.UUID, f domain.FileFilter, page domain.PageRequest) (domain.Page[domain.File], error) {
	var rows []db.File
	err := s.read(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListFiles(ctx, db.ListFilesParams{TeamID: teamID, Before: page.After, Limit: int32(page.Limit + 1),
			ContentType: nonEmpty(f.ContentType), NamePrefix: nonEmpty(f.NamePrefix), CreatedAfter: f.CreatedAfter, CreatedBefore: f.CreatedBefore})
		return err
	})
	return domain.NewPage(mapSlice(rows, fileFromRow), page.Limit, fileID), err
}

// DeleteFile marks a team's file deleted and removes its jobs' outputs; a
// worker removes the objects.
func (s *Store) DeleteFile(ctx context.Context, teamID, id uuid.UUID) (domain.File, error) {
	var row db.File
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) (err error) {
		row, err = q.SoftDeleteFile(ctx, db.SoftDeleteFileParams{TeamID: teamID, ID: id})
		if err != nil {
			return notFound(mapErr(err), "File")
		}
		if err := q.LockFileJobs(ctx, &id); err != nil {
			return err
		}
		log.add(domain.FileEvent(domain.EventFileDeleted, fileFromRow(row)))
		return q.DeleteFileJobOutputs(ctx, &id)
	})
	return fileFromRow(row), err
}

// FilesToRemove returns deleted files whose objects are still stored.
func (s *Store) FilesToRemove(ctx context.Context, limit int) ([]domain.File, error) {
	var rows []db.File
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListFilesToRemove(ctx, int32(limit))
		return err
	})
	return mapSlice(rows, fileFromRow), err
}

// MarkObjectRemoved records that a deleted file's object is gone.
func (s *Store) MarkObjectRemoved(ctx context.Context, id uuid.UUID) error {
	return s.write(ctx, func(q *db.Queries) error { return q.MarkObjectRemoved(ctx, id) })
}

// KnownObjectKeys returns which of keys a file or an open upload refers to.
func (s *Store) KnownObjectKeys(ctx context.Context, keys []string) (map[string]bool, error) {
	var rows []string
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.KnownObjectKeys(ctx, keys)
		return err
	})
	known := make(map[string]bool, len(rows))
	for _, k := range rows {
		known[k] = true
	}
	return known, err
}
