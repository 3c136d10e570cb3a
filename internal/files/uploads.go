package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

const (
	// MultipartThreshold is the size from which a direct upload goes in parts.
	MultipartThreshold = 64 << 20
	// minPartSize is S3's smallest part (but the last).
	minPartSize = 8 << 20
	maxParts    = 10000
	// MaxDirectUpload is S3's largest object.
	MaxDirectUpload = 5 << 40
	// defaultUploadTTL is how long an upload's URLs work and it may be
	// completed, unless the service says otherwise.
	defaultUploadTTL = 6 * time.Hour
)

func (s *Service) uploadTTL() time.Duration {
	if s.UploadTTL > 0 {
		return s.UploadTTL
	}
	return defaultUploadTTL
}

// partSize is the part size for a multipart upload of size bytes: at
// least 8 MiB, and few enough parts for S3's 10,000.
func partSize(size int64) int64 {
	ps := int64(minPartSize)
	if need := (size + maxParts - 1) / maxParts; need > ps {
		ps = need
	}
	return ps
}

// reservationGrace is how long a direct upload's reservation outlives the
// upload's expiry, by when the janitor has aborted it (and given it back).
const reservationGrace = time.Hour

// CreateUpload starts a direct-to-S3 upload of size bytes: one presigned
// PUT below the multipart threshold, a presigned URL per part above it.
// A size over the team's max_file_bytes is refused (CodeFileTooLarge), and
// so is one that would take the team past max_stored_bytes
// (CodeQuotaExceeded), before anything is started in storage; otherwise
// the size is reserved until the upload is completed or aborted.
func (s *Service) CreateUpload(ctx context.Context, teamID uuid.UUID, name string, size int64, sha string) (domain.Upload, error) {
	if err := s.allow(ctx, "createUpload", teamID); err != nil {
		return domain.Upload{}, err
	}
	if size < 0 || size > MaxDirectUpload {
		return domain.Upload{}, &domain.Error{Code: domain.CodeInvalid, Message: fmt.Sprintf("size is 0 to %d bytes.", int64(MaxDirectUpload)),
			Fields: []domain.FieldError{{Pointer: "/size", Detail: "out of range"}}}
	}
	lim, err := s.limits(ctx, teamID)
	if err != nil {
		return domain.Upload{}, err
	}
	if size > lim.MaxFileBytes {
		return domain.Upload{}, domain.ErrFileTooLarge(domain.QuotaExceeded{Limit: lim.MaxFileBytes, RequestedBytes: size})
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.Upload{}, err
	}
	u := domain.Upload{ID: id, TeamID: teamID, Name: CleanName(name), Size: size, SHA256: sha,
		ObjectKey: ObjectKey(teamID, id), CreatedBy: domain.PrincipalFrom(ctx).CreatedBy(), ExpiresAt: time.Now().Add(s.uploadTTL())}
	if s.Quotas != nil {
		if err := s.Quotas.ReserveStorage(ctx, teamID, id, size, lim.MaxStoredBytes, size, u.ExpiresAt.Add(reservationGrace)); err != nil {
			return domain.Upload{}, err
		}
	}
	created, err := s.startUpload(ctx, u)
	if err != nil && s.Quotas != nil {
		if rerr := s.Quotas.ReleaseStorage(context.WithoutCancel(ctx), id); rerr != nil {
			s.logError("files: release a failed upload's reservation; the reconciler will", "id", id, "err", rerr)
		}
	}
	return created, err
}

func (s *Service) startUpload(ctx context.Context, u domain.Upload) (domain.Upload, error) {
	var err error
	if u.Size >= MultipartThreshold {
		u.PartSize = partSize(u.Size)
		if u.S3UploadID, err = s.Blobs.StartMultipart(ctx, u.ObjectKey); err != nil {
			return domain.Upload{}, err
		}
	}
	created, err := s.Store.CreateUpload(ctx, u)
	if err != nil {
		return domain.Upload{}, err
	}
	created.Parts, err = s.presign(ctx, created)
	return created, err
}

func (s *Service) presign(ctx context.Context, u domain.Upload) ([]domain.UploadPart, error) {
	if !u.Multipart() {
		url, err := s.Blobs.PresignPut(ctx, u.ObjectKey, u.Size, s.uploadTTL())
		return []domain.UploadPart{{Number: 1, URL: url}}, err
	}
	n := int((u.Size + u.PartSize - 1) / u.PartSize)
	parts := make([]domain.UploadPart, n)
	for i := range parts {
		url, err := s.Blobs.PresignPart(ctx, u.ObjectKey, u.S3UploadID, i+1, s.uploadTTL())
		if err != nil {
			return nil, err
		}
		parts[i] = domain.UploadPart{Number: i + 1, URL: url}
	}
	return parts, nil
}

func unprocessable(pointer, msg string) error {
	return &domain.Error{Code: domain.CodeUnprocessable, Message: msg, Fields: []domain.FieldError{{Pointer: pointer, Detail: msg}}}
}

// CompleteUpload checks what storage holds against the upload — the parts,
// the size, the SHA-256 when one was declared — and creates the file. The
// content's hash and media type are computed from the stored bytes.
// Completing a completed upload returns its file.
func (s *Service) CompleteUpload(ctx context.Context, teamID, uploadID uuid.UUID, parts []domain.CompletedPart) (domain.File, error) {
	if err := s.allow(ctx, "completeUpload", teamID); err != nil {
		return domain.File{}, err
	}
	u, err := s.Store.Upload(ctx, teamID, uploadID)
	if err != nil {
		return domain.File{}, err
	}
	if u.CompletedFileID != nil {
		return s.Store.CompleteUpload(ctx, teamID, uploadID, domain.File{}, 0)
	}
	if u.AbortedAt != nil || time.Now().After(u.ExpiresAt) {
		return domain.File{}, domain.Errorf(domain.CodeConflict, "The upload expired or was aborted; start a new one.")
	}
	if u.Multipart() {
		want := int((u.Size + u.PartSize - 1) / u.PartSize)
		if len(parts) != want {
			return domain.File{}, unprocessable("/parts", fmt.Sprintf("The upload has %d parts; complete lists %d.", want, len(parts)))
		}
		sort.Slice(parts, func(i, j int) bool { return parts[i].Number < parts[j].Number })
		for i, p := range parts {
			if p.Number != i+1 {
				return domain.File{}, unprocessable("/parts", "Parts are numbered 1 to N, each once.")
			}
		}
		if err := s.Blobs.CompleteMultipart(ctx, u.ObjectKey, u.S3UploadID, parts); err != nil {
			return domain.File{}, s.teamGone(ctx, teamID, err)
		}
	} else if len(parts) > 0 {
		return domain.File{}, unprocessable("/parts", "A single-PUT upload has no parts to list.")
	}
	size, err := s.Blobs.Head(ctx, u.ObjectKey)
	if domain.IsNotFound(err) {
		return domain.File{}, unprocessable("", "Storage has no bytes for this upload yet: PUT them first.")
	}
	if err != nil {
		return domain.File{}, err
	}
	if size != u.Size {
		return domain.File{}, unprocessable("/size", fmt.Sprintf("Storage holds %d bytes; the upload declared %d.", size, u.Size))
	}
	sum, contentType, err := s.digest(ctx, u.ObjectKey)
	if err != nil {
		return domain.File{}, err
	}
	if u.SHA256 != "" && sum != u.SHA256 {
		return domain.File{}, unprocessable("/sha256", "The stored bytes do not hash to the declared SHA-256.")
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.File{}, err
	}
	lim, err := s.limits(ctx, teamID)
	if err != nil {
		return domain.File{}, err
	}
	// The file keeps the upload's object: its key is the upload's. Its
	// bytes were reserved when the upload was created; only a reservation
	// lost meanwhile makes the quota refuse it here, and then the upload
	// is aborted and its object removed.
	f, err := s.Store.CompleteUpload(ctx, teamID, uploadID, domain.File{ID: id, TeamID: teamID, Name: u.Name, Size: size, SHA256: sum,
		ContentType: contentType, ObjectKey: u.ObjectKey, CreatedBy: domain.PrincipalFrom(ctx).CreatedBy()}, lim.MaxStoredBytes)
	if _, over := quotaOf(err); over && s.Aborts != nil {
		bg := context.WithoutCancel(ctx)
		if aerr := errors.Join(s.Aborts.AbortUpload(bg, uploadID), s.Blobs.Delete(bg, u.ObjectKey)); aerr != nil {
			s.logError("files: abort an upload over quota; the janitor will", "id", uploadID, "err", aerr)
		}
	}
	return f, err
}

// digest reads an object once: its SHA-256 and detected media type.
func (s *Service) digest(ctx context.Context, key string) (string, string, error) {
	rc, err := s.Blobs.Get(ctx, key)
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	h := sha256.New()
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(rc, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", "", err
	}
	h.Write(head[:n])
	if _, err := io.Copy(h, rc); err != nil {
		return "", "", err
	}
	return hex.EncodeToString(h.Sum(nil)), http.DetectContentType(head[:n]), nil
}
