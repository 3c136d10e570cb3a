package files_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
)

type fixture struct {
	store *memStore
	blobs *memBlobs
	svc   *files.Service
	team  uuid.UUID
	user  *domain.Principal
}

func newFixture() *fixture {
	f := &fixture{store: newMemStore(), blobs: newMemBlobs(), team: uuid.New(),
		user: &domain.Principal{UserID: uuid.New(), Method: domain.AuthOIDC}}
	f.svc = &files.Service{Policy: allowAll{}, Store: f.store, Blobs: f.blobs, MaxBytes: 1 << 20}
	return f
}

func (f *fixture) ctx() context.Context { return domain.WithPrincipal(context.Background(), f.user) }

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func wantCode(t *testing.T, what string, err error, code domain.Code) *domain.Error {
	t.Helper()
	var de *domain.Error
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("%s: %v; want %s", what, err, code)
	}
	return de
}

// TestUploadMeasuresHashesAndTypes: an upload is stored under its file's
// key, measured and hashed as it passes, typed from its first bytes (not
// its name), recorded with its creator, and announced.
func TestUploadMeasuresHashesAndTypes(t *testing.T) {
	f := newFixture()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 600)...)
	got, err := f.svc.Upload(f.ctx(), f.team, "../../notes.txt", strings.NewReader(string(png)), -1)
	if err != nil {
		t.Fatal(err)
	}
	if got.Size != int64(len(png)) || got.SHA256 != sum(png) || got.ContentType != "image/png" || got.Name != "notes.txt" {
		t.Fatalf("file %+v; want %d bytes, its SHA-256, image/png, notes.txt", got, len(png))
	}
	if got.ObjectKey != files.ObjectKey(f.team, got.ID) || string(f.blobs.objects[got.ObjectKey]) != string(png) {
		t.Fatalf("object %q holds %d bytes", got.ObjectKey, len(f.blobs.objects[got.ObjectKey]))
	}
	if got.CreatedBy == nil || *got.CreatedBy != f.user.UserID {
		t.Fatalf("created by %v; want %s", got.CreatedBy, f.user.UserID)
	}
}

// TestUploadOverTheLimit: a body over MaxBytes is too large and leaves no
// object and no row; one of exactly MaxBytes is taken.
func TestUploadOverTheLimit(t *testing.T) {
	f := newFixture()
	f.svc.MaxBytes = 1000
	_, err := f.svc.Upload(f.ctx(), f.team, "big", strings.NewReader(strings.Repeat("x", 1001)), -1)
	wantCode(t, "1001 bytes", err, domain.CodeFileTooLarge)
	if len(f.blobs.objects) != 0 || len(f.store.files) != 0 {
		t.Fatalf("left behind: %d objects, %d files", len(f.blobs.objects), len(f.store.files))
	}
	if _, err := f.svc.Upload(f.ctx(), f.team, "fits", strings.NewReader(strings.Repeat("x", 1000)), -1); err != nil {
		t.Fatalf("exactly the limit: %v", err)
	}
}

// TestUploadRowFailureRemovesTheObject: when the row cannot be written the
// stored object is removed again: no object without its row.
func TestUploadRowFailureRemovesTheObject(t *testing.T) {
	f := newFixture()
	f.store.createErr = domain.Errorf(domain.CodeUnavailable, "primary down")
	_, err := f.svc.Upload(f.ctx(), f.team, "a.txt", strings.NewReader("hello"), -1)
	wantCode(t, "upload", err, domain.CodeUnavailable)
	if len(f.blobs.objects) != 0 {
		t.Fatalf("left %d objects", len(f.blobs.objects))
	}
}

// failingReader fails after some bytes, as a client that hangs up.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.ErrUnexpectedEOF
	}
	k := min(r.n, len(p))
	r.n -= k
	return k, nil
}

func TestUploadCutShortIsInvalid(t *testing.T) {
	f := newFixture()
	_, err := f.svc.Upload(f.ctx(), f.team, "a", &failingReader{n: 2000}, -1)
	wantCode(t, "a body cut short", err, domain.CodeInvalid)
	if len(f.store.files) != 0 {
		t.Fatal("a row for a body cut short")
	}
}

// TestRefusedUploadReadsNothing: a caller the policy refuses is answered
// before a byte of the body is read or anything is stored.
func TestRefusedUploadReadsNothing(t *testing.T) {
	f := newFixture()
	f.svc.Policy = refuseAll{}
	body := &failingReader{n: 1 << 20}
	_, err := f.svc.Upload(f.ctx(), f.team, "a", body, -1)
	wantCode(t, "refused", err, domain.CodeNotFound)
	if body.n != 1<<20 || f.store.asked != 0 || len(f.blobs.objects) != 0 {
		t.Fatalf("read %d bytes, asked the store %d times", 1<<20-body.n, f.store.asked)
	}
}

// TestListRefusesAReversedRange: created_after must be before
// created_before; the store is not asked otherwise.
func TestListRefusesAReversedRange(t *testing.T) {
	f := newFixture()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Hour)
	for name, r := range map[string][2]time.Time{"reversed": {t1, t0}, "equal": {t0, t0}} {
		_, err := f.svc.List(f.ctx(), f.team, domain.FileFilter{CreatedAfter: &r[0], CreatedBefore: &r[1]}, domain.PageRequest{Limit: 10})
		de := wantCode(t, name, err, domain.CodeInvalid)
		if len(de.Fields) != 1 || de.Fields[0].Pointer != "created_after" {
			t.Fatalf("%s: fields %+v", name, de.Fields)
		}
	}
	if f.store.asked != 0 {
		t.Fatal("the store was asked")
	}
	if _, err := f.svc.List(f.ctx(), f.team, domain.FileFilter{CreatedAfter: &t0, CreatedBefore: &t1}, domain.PageRequest{Limit: 10}); err != nil {
		t.Fatal(err)
	}
}

// TestDeleteAnnounces: a deleted file is announced; a missing one is not
// found and announced not at all.
func TestDeleteAnnounces(t *testing.T) {
	f := newFixture()
	file, err := f.svc.Upload(f.ctx(), f.team, "a.txt", strings.NewReader("hello"), -1)
	if err != nil {
		t.Fatal(err)
	}
	wantCode(t, "another team's file", f.svc.Delete(f.ctx(), uuid.New(), file.ID), domain.CodeNotFound)
	if err := f.svc.Delete(f.ctx(), f.team, file.ID); err != nil {
		t.Fatal(err)
	}
	wantCode(t, "deleting twice", f.svc.Delete(f.ctx(), f.team, file.ID), domain.CodeNotFound)
}

// TestOpenRanges: one byte range is passed to storage; several ranges,
// other units and bad syntax are ignored (the whole file); bytes=-0 is
// unsatisfiable.
func TestOpenRanges(t *testing.T) {
	f := newFixture()
	file, err := f.svc.Upload(f.ctx(), f.team, "a.txt", strings.NewReader("hello, world"), -1)
	if err != nil {
		t.Fatal(err)
	}
	for rng, want := range map[string]string{"bytes=0-4": "bytes=0-4", "bytes=-3": "bytes=-3", "bytes=7-": "bytes=7-",
		"bytes=0-1,3-4": "", "items=0-1": "", "bytes=x": "", "": ""} {
		f.blobs.opened = nil
		c, err := f.svc.Open(f.ctx(), f.team, file.ID, rng)
		if err != nil {
			t.Fatalf("%q: %v", rng, err)
		}
		if len(f.blobs.opened) != 1 || f.blobs.opened[0] != want {
			t.Errorf("Range %q asked storage for %q; want %q", rng, f.blobs.opened, want)
		}
		if want == "" && c.ContentRange != "" {
			t.Errorf("Range %q: a whole file with Content-Range %q", rng, c.ContentRange)
		}
		if c.File.ID != file.ID {
			t.Errorf("opened %s", c.File.ID)
		}
	}
	_, err = f.svc.Open(f.ctx(), f.team, file.ID, "bytes=-0")
	wantCode(t, "bytes=-0", err, domain.CodeRangeNotSatisfiable)
	u, err := f.svc.DownloadURL(f.ctx(), f.team, file.ID)
	if err != nil || !strings.Contains(u, file.ObjectKey) || !strings.Contains(u, "name=a.txt") || !strings.Contains(u, "ttl=5m0s") {
		t.Fatalf("download URL %q %v; want the object, its name, five minutes", u, err)
	}
}
