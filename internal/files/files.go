// Package files holds the rules about uploaded files: how an upload is
// streamed, measured, typed and recorded.
package files

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Store is what the service needs from the database.
type Store interface {
	CreateFile(ctx context.Context, f domain.File, maxStored int64) (domain.File, error)
	File(ctx context.Context, teamID, id uuid.UUID) (domain.File, error)
	Files(ctx context.Context, teamID uuid.UUID, f domain.FileFilter, page domain.PageRequest) (domain.Page[domain.File], error)
	DeleteFile(ctx context.Context, teamID, id uuid.UUID) (domain.File, error)
	CreateUpload(ctx context.Context, u domain.Upload) (domain.Upload, error)
	Upload(ctx context.Context, teamID, id uuid.UUID) (domain.Upload, error)
	CompleteUpload(ctx context.Context, teamID, uploadID uuid.UUID, f domain.File, maxStored int64) (domain.File, error)
}

// Blobs is what the service needs from object storage.
type Blobs interface {
	Put(ctx context.Context, key string, body io.Reader, contentType string) error
	Delete(ctx context.Context, key string) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Head(ctx context.Context, key string) (int64, error)
	// PresignDownload and OpenDownload serve the object as name of media
	// type contentType, by URL or streamed through the API; storage
	// presents both alike, keeping a browser from rendering what is not
	// safe to.
	PresignDownload(ctx context.Context, key, name, contentType string, ttl time.Duration) (string, error)
	OpenDownload(ctx context.Context, key, spec, name, contentType string) (domain.Download, error)
	PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error)
	StartMultipart(ctx context.Context, key string) (string, error)
	PresignPart(ctx context.Context, key, uploadID string, n int, ttl time.Duration) (string, error)
	CompleteMultipart(ctx context.Context, key, uploadID string, parts []domain.CompletedPart) error
}

// Service implements the file rules. Each method that serves an API
// operation first checks the caller against the role the operation
// declares (Policy), whether or not the HTTP layer did. The store logs a
// file's creation and deletion as events, in the change's transaction.
type Service struct {
	Policy    domain.Policy
	Store     Store
	Blobs     Blobs
	Quotas    Quotas               // optional: without it, no team quota applies
	Aborts    Aborts               // optional: aborts a direct upload refused at completion
	Defaults  domain.QuotaDefaults // the limits of a team that has none of its own
	MaxBytes  int64                // the largest file streamed through the API
	UploadTTL time.Duration        // direct uploads expire after this (0: 6 h)
	Logger    *slog.Logger
}

// allow refuses the caller unless the role table lets it call op in
// teamID; without a Policy everything is refused.
func (s *Service) allow(ctx context.Context, op string, teamID uuid.UUID) error {
	return domain.Allow(ctx, s.Policy, op, &teamID)
}

func (s *Service) logError(msg string, args ...any) {
	if s.Logger != nil {
		s.Logger.Error(msg, args...)
	}
}

// sniffLen is how much of the head decides the media type.
const sniffLen = 512

// ObjectKey is where a team's file is stored.
func ObjectKey(teamID, fileID uuid.UUID) string {
	return "teams/" + teamID.String() + "/files/" + fileID.String()
}

// Upload streams body into storage and records it as a file of teamID.
// The content is hashed and measured as it passes; its media type is
// detected from its first bytes. declared is the request's length (-1:
// unknown), an upper bound of the file's. The team's storage is reserved
// ahead of the bytes (see streamReservation): a file over the team's
// max_file_bytes (or MaxBytes) fails with CodeFileTooLarge, one that would
// take the team past max_stored_bytes with CodeQuotaExceeded, before it
// streams when declared says so, else the moment it passes the limit.
// Either leaves nothing behind; so does any failure before the row is
// written (the object is removed again, the reservation given back).
func (s *Service) Upload(ctx context.Context, teamID uuid.UUID, name string, body io.Reader, declared int64) (domain.File, error) {
	if err := s.allow(ctx, "uploadFile", teamID); err != nil {
		return domain.File{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return domain.File{}, err
	}
	lim, err := s.limits(ctx, teamID)
	if err != nil {
		return domain.File{}, err
	}
	fileMax := lim.MaxFileBytes
	if s.MaxBytes > 0 {
		fileMax = min(fileMax, s.MaxBytes)
	}
	if declared >= 0 && declared-multipartEnvelope > fileMax {
		return domain.File{}, domain.ErrFileTooLarge(domain.QuotaExceeded{Limit: fileMax, RequestedBytes: declared})
	}
	r := &measuredReader{r: body, max: fileMax, h: sha256.New()}
	if s.Quotas != nil {
		res := &streamReservation{ctx: ctx, q: s.Quotas, team: teamID, id: id, max: lim.MaxStoredBytes, declared: declared, fileMax: fileMax}
		if err := res.start(); err != nil {
			return domain.File{}, err
		}
		r.cover = res.cover
		stored := false
		defer func() {
			if !stored {
				res.release(s.logError)
			}
		}()
		f, err := s.upload(ctx, teamID, id, name, r, lim)
		stored = err == nil
		return f, err
	}
	return s.upload(ctx, teamID, id, name, r, lim)
}

func (s *Service) upload(ctx context.Context, teamID, id uuid.UUID, name string, r *measuredReader, lim domain.Limits) (domain.File, error) {
	head := make([]byte, sniffLen)
	n, err := io.ReadFull(r, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return domain.File{}, bodyErr(err)
	}
	head = head[:n]
	contentType := http.DetectContentType(head)
	key := ObjectKey(teamID, id)
	if err := s.Blobs.Put(ctx, key, io.MultiReader(bytes.NewReader(head), r), contentType); err != nil {
		if r.err != nil {
			return domain.File{}, bodyErr(r.err)
		}
		return domain.File{}, s.teamGone(ctx, teamID, err)
	}
	creator := domain.PrincipalFrom(ctx).CreatedBy()
	f, err := s.Store.CreateFile(ctx, domain.File{ID: id, TeamID: teamID, Name: CleanName(name), Size: r.n,
		SHA256: hex.EncodeToString(r.h.Sum(nil)), ContentType: contentType, ObjectKey: key, CreatedBy: creator}, lim.MaxStoredBytes)
	if err != nil {
		if derr := s.Blobs.Delete(context.WithoutCancel(ctx), key); derr != nil && s.Logger != nil {
			s.Logger.ErrorContext(ctx, "files: remove object after failed insert; the sweeper will", "key", key, "err", derr)
		}
		return domain.File{}, err
	}
	return f, nil
}

// teamGone returns err, the failure of a storage step of an upload, or
// the team's not-found when the team was deleted under the upload (its
// purge aborts the upload's multipart, so storage fails): the team is
// gone, which the caller is to hear, not a storage outage. The team is
// read from the primary, through the store.
func (s *Service) teamGone(ctx context.Context, teamID uuid.UUID, err error) error {
	if s.Quotas == nil {
		return err
	}
	if _, qerr := s.Quotas.TeamQuota(context.WithoutCancel(ctx), teamID); domain.IsNotFound(qerr) {
		return qerr
	}
	return err
}

// Get returns a team's file.
func (s *Service) Get(ctx context.Context, teamID, id uuid.UUID) (domain.File, error) {
	if err := s.allow(ctx, "getFile", teamID); err != nil {
		return domain.File{}, err
	}
	return s.Store.File(ctx, teamID, id)
}

// List returns a page of a team's files, filtered.
func (s *Service) List(ctx context.Context, teamID uuid.UUID, f domain.FileFilter, page domain.PageRequest) (domain.Page[domain.File], error) {
	if err := s.allow(ctx, "listFiles", teamID); err != nil {
		return domain.Page[domain.File]{}, err
	}
	if f.CreatedAfter != nil && f.CreatedBefore != nil && !f.CreatedAfter.Before(*f.CreatedBefore) {
		return domain.Page[domain.File]{}, &domain.Error{Code: domain.CodeInvalid, Message: "created_after must be before created_before.",
			Fields: []domain.FieldError{{Pointer: "created_after", Detail: "not before created_before"}}}
	}
	return s.Store.Files(ctx, teamID, f, page)
}

// Delete deletes a team's file and its jobs' outputs: they are gone for
// every reader at once, and the janitor removes the objects.
func (s *Service) Delete(ctx context.Context, teamID, id uuid.UUID) error {
	if err := s.allow(ctx, "deleteFile", teamID); err != nil {
		return err
	}
	_, err := s.Store.DeleteFile(ctx, teamID, id)
	return err
}

// downloadTTL is how long a presigned download URL works.
const downloadTTL = 5 * time.Minute

// Content is an open file content, whole or a range, with how a browser
// is to present it.
type Content struct {
	File domain.File
	domain.Download
}

// rangeSpec matches the single byte ranges served; anything else (several
// ranges, other units, bad syntax) is ignored, as RFC 9110 allows, and the
// whole file is sent.
var rangeSpec = regexp.MustCompile(`^bytes=(\d{1,19}-\d{0,19}|-\d{1,19})$`)

// Open opens a team's file for streaming, for the byte range in the Range
// header value rng (empty: all of it), presented as its presigned download
// is (only safe types inline, under the file's name).
func (s *Service) Open(ctx context.Context, teamID, id uuid.UUID, rng string) (Content, error) {
	if err := s.allow(ctx, "downloadFile", teamID); err != nil {
		return Content{}, err
	}
	f, err := s.Store.File(ctx, teamID, id)
	if err != nil {
		return Content{}, err
	}
	if !rangeSpec.MatchString(rng) {
		rng = ""
	}
	if rng == "bytes=-0" {
		return Content{}, domain.Errorf(domain.CodeRangeNotSatisfiable, "The Range does not overlap the file.")
	}
	d, err := s.Blobs.OpenDownload(ctx, f.ObjectKey, rng, f.Name, f.ContentType)
	if err != nil {
		return Content{}, err
	}
	if rng == "" {
		d.ContentRange = ""
	}
	return Content{File: f, Download: d}, nil
}

// DownloadURL returns a short-lived presigned URL of a team's file.
func (s *Service) DownloadURL(ctx context.Context, teamID, id uuid.UUID) (string, error) {
	if err := s.allow(ctx, "downloadFile", teamID); err != nil {
		return "", err
	}
	f, err := s.Store.File(ctx, teamID, id)
	if err != nil {
		return "", err
	}
	return s.Blobs.PresignDownload(ctx, f.ObjectKey, f.Name, f.ContentType, downloadTTL)
}

// CleanName makes a client's file name safe to store and show: the last
// path element, no control characters, valid UTF-8, at most 255 bytes.
func CleanName(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	for len(name) > 255 {
		_, size := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-size]
	}
	if name == "" || name == "." || name == "/" || name == ".." {
		return "upload"
	}
	return name
}

// errTooLarge marks a body over the limit.
type errTooLarge struct{ max, n int64 }

func (e errTooLarge) Error() string { return fmt.Sprintf("body over %d bytes", e.max) }

// bodyErr turns a failure to read the client's body into a domain error.
func bodyErr(err error) error {
	var tl errTooLarge
	if errors.As(err, &tl) {
		return domain.ErrFileTooLarge(domain.QuotaExceeded{Limit: tl.max, RequestedBytes: tl.n})
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return domain.Errorf(domain.CodeTooLarge, "The request body is larger than the limit of %d bytes.", mbe.Limit)
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	return domain.Wrap(err, domain.CodeInvalid, "The upload could not be read to its end.")
}

// measuredReader counts and hashes what passes, fails once more than max
// bytes have passed or cover refuses the count, and remembers its first
// error.
type measuredReader struct {
	r     io.Reader
	max   int64
	n     int64
	h     hash.Hash
	err   error
	cover func(n int64) error // optional: holds room for n bytes
}

func (m *measuredReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	n, err := m.r.Read(p)
	m.n += int64(n)
	m.h.Write(p[:n])
	if m.max > 0 && m.n > m.max {
		m.err = errTooLarge{m.max, m.n}
		return n, m.err
	}
	if m.cover != nil && n > 0 {
		if cerr := m.cover(m.n); cerr != nil {
			m.err = cerr
			return n, m.err
		}
	}
	if err != nil && !errors.Is(err, io.EOF) {
		m.err = err
	}
	return n, err
}
