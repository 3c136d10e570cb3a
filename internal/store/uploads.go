package store

import (
	"context"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/gen/db"
	"github.com/conveyorhq/conveyor/internal/domain"
)

func uploadFromRow(r db.Upload) domain.Upload {
	u := domain.Upload{ID: r.ID, TeamID: r.TeamID, Name: r.Name, Size: r.Size, ObjectKey: r.ObjectKey, PartSize: r.PartSize,
		CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, CompletedFileID: r.CompletedFileID, AbortedAt: r.AbortedAt}
	if r.Sha256 != nil {
		u.SHA256 = *r.Sha256
	}
	if r.S3UploadID != nil {
		u.S3UploadID = *r.S3UploadID
	}
	return u
}

// CreateUpload records a direct upload.
func (s *Store) CreateUpload(ctx context.Context, u domain.Upload) (domain.Upload, error) {
	var row db.Upload
	err := s.write(ctx, func(q *db.Queries) (err error) {
		row, err = q.CreateUpload(ctx, db.CreateUploadParams{ID: u.ID, TeamID: u.TeamID, Name: u.Name, Size: u.Size,
			Sha256: nonEmpty(u.SHA256), ObjectKey: u.ObjectKey, S3UploadID: nonEmpty(u.S3UploadID), PartSize: u.PartSize,
			CreatedBy: u.CreatedBy, ExpiresAt: u.ExpiresAt})
		return err
	})
	return uploadFromRow(row), err
}

// Upload returns a team's upload, or a not-found error.
func (s *Store) Upload(ctx context.Context, teamID, id uuid.UUID) (domain.Upload, error) {
	var row db.Upload
	err := s.read(ctx, func(q *db.Queries) (err error) {
		row, err = q.GetUpload(ctx, db.GetUploadParams{TeamID: teamID, ID: id})
		return err
	})
	return uploadFromRow(row), notFound(err, "Upload")
}

// CompleteUpload records f as the file of the upload, in one transaction,
// unless another request completed it first: then it returns that file.
// The storage the upload reserved becomes the file's; a file larger than
// the reservation must still fit within maxStored (CodeQuotaExceeded).
func (s *Store) CompleteUpload(ctx context.Context, teamID, uploadID uuid.UUID, f domain.File, maxStored int64) (domain.File, error) {
	var out db.File
	err := s.writeLogged(ctx, func(q *db.Queries, log *eventLog) error {
		u, err := q.LockUpload(ctx, db.LockUploadParams{TeamID: teamID, ID: uploadID})
		if err != nil {
			return notFound(mapErr(err), "Upload")
		}
		if u.CompletedFileID != nil {
			out, err = q.GetFileByID(ctx, *u.CompletedFileID)
			return err
		}
		if u.AbortedAt != nil {
			return domain.Errorf(domain.CodeConflict, "The upload was aborted.")
		}
		if err := convertIn(ctx, q, teamID, uploadID, f.Size, maxStored); err != nil {
			return err
		}
		out, err = q.CreateFile(ctx, db.CreateFileParams{ID: f.ID, TeamID: f.TeamID, Name: f.Name, Size: f.Size, Sha256: f.SHA256,
			ContentType: f.ContentType, ObjectKey: f.ObjectKey, CreatedBy: f.CreatedBy})
		if err != nil {
			return err
		}
		log.add(domain.FileEvent(domain.EventFileCreated, fileFromRow(out)))
		return q.MarkUploadCompleted(ctx, db.MarkUploadCompletedParams{ID: uploadID, CompletedFileID: &f.ID})
	})
	return fileFromRow(out), err
}

// AbortUpload marks an open upload aborted and gives back the storage it
// reserved.
func (s *Store) AbortUpload(ctx context.Context, id uuid.UUID) error {
	return s.write(ctx, func(q *db.Queries) error {
		if err := q.MarkUploadAborted(ctx, id); err != nil {
			return err
		}
		return releaseIn(ctx, q, id)
	})
}

// ExpiredUploads returns open uploads past their expiry.
func (s *Store) ExpiredUploads(ctx context.Context, limit int) ([]domain.Upload, error) {
	var rows []db.Upload
	err := s.readPrimary(ctx, func(q *db.Queries) (err error) {
		rows, err = q.ListExpiredUploads(ctx, int32(limit))
		return err
	})
	return mapSlice(rows, uploadFromRow), err
}
