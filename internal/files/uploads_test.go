package files_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
)

// TestCreateUploadChoosesTheMethod: below the multipart threshold one
// presigned PUT; from it, parts of at least 8 MiB and never more than
// S3's 10,000; sizes outside 0..5 TiB are refused on /size.
func TestCreateUploadChoosesTheMethod(t *testing.T) {
	for _, tc := range []struct {
		size         int64
		multipart    bool
		partSize     int64
		parts        int
		checkAllURLs bool
	}{
		{0, false, 0, 1, true},
		{files.MultipartThreshold - 1, false, 0, 1, true},
		{files.MultipartThreshold, true, 8 << 20, 8, true},
		{files.MultipartThreshold + 1, true, 8 << 20, 9, true},
		{files.MaxDirectUpload, true, (files.MaxDirectUpload + 9999) / 10000, 10000, false},
	} {
		f := newFixture()
		u, err := f.svc.CreateUpload(f.ctx(), f.team, "big.bin", tc.size, "")
		if err != nil {
			t.Fatalf("%d bytes: %v", tc.size, err)
		}
		if u.Multipart() != tc.multipart || u.PartSize != tc.partSize || len(u.Parts) != tc.parts {
			t.Fatalf("%d bytes: multipart %v, part size %d, %d parts; want %v, %d, %d", tc.size, u.Multipart(), u.PartSize,
				len(u.Parts), tc.multipart, tc.partSize, tc.parts)
		}
		if u.Multipart() && u.PartSize*int64(len(u.Parts)) < tc.size {
			t.Fatalf("%d bytes: the parts hold only %d", tc.size, u.PartSize*int64(len(u.Parts)))
		}
		if u.ObjectKey != files.ObjectKey(f.team, u.ID) || !u.ExpiresAt.After(time.Now().Add(5*time.Hour)) {
			t.Fatalf("%d bytes: key %q, expires %v", tc.size, u.ObjectKey, u.ExpiresAt)
		}
		for i, p := range u.Parts {
			if p.Number != i+1 || p.URL == "" {
				t.Fatalf("%d bytes: part %d is %+v", tc.size, i, p)
			}
			if !tc.checkAllURLs {
				break
			}
		}
	}
	for _, size := range []int64{-1, files.MaxDirectUpload + 1} {
		f := newFixture()
		_, err := f.svc.CreateUpload(f.ctx(), f.team, "x", size, "")
		if de := wantCode(t, "size", err, domain.CodeInvalid); de.Fields[0].Pointer != "/size" {
			t.Fatalf("%d: %+v", size, de.Fields)
		}
		if len(f.store.uploads) != 0 {
			t.Fatalf("%d: an upload was recorded", size)
		}
	}
}

// TestCompleteUpload: what storage holds is checked against the upload
// before a file is made of it; the file's hash and type come from the
// stored bytes; completing twice returns the same file.
func TestCompleteUpload(t *testing.T) {
	content := "id,name\n1,ada\n"
	single := func(f *fixture, sha string) domain.Upload {
		u, err := f.svc.CreateUpload(f.ctx(), f.team, "people.csv", int64(len(content)), sha)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	t.Run("single", func(t *testing.T) {
		f := newFixture()
		u := single(f, sum([]byte(content)))
		_, err := f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		wantCode(t, "before the PUT", err, domain.CodeUnprocessable)
		f.blobs.objects[u.ObjectKey] = []byte(content)
		_, err = f.svc.CompleteUpload(f.ctx(), f.team, u.ID, []domain.CompletedPart{{Number: 1, ETag: "e"}})
		if de := wantCode(t, "parts for a single PUT", err, domain.CodeUnprocessable); de.Fields[0].Pointer != "/parts" {
			t.Fatal(de.Fields)
		}
		file, err := f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		if err != nil || file.SHA256 != sum([]byte(content)) || file.Size != int64(len(content)) ||
			file.ContentType != "text/plain; charset=utf-8" || file.ObjectKey != u.ObjectKey || file.Name != "people.csv" {
			t.Fatalf("file %+v %v", file, err)
		}
		again, err := f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		if err != nil || again.ID != file.ID {
			t.Fatalf("completing again: %+v %v; want file %s", again, err, file.ID)
		}
	})
	t.Run("size and hash", func(t *testing.T) {
		f := newFixture()
		u := single(f, "")
		f.blobs.objects[u.ObjectKey] = []byte(content + "x")
		_, err := f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		if de := wantCode(t, "a byte too many", err, domain.CodeUnprocessable); de.Fields[0].Pointer != "/size" {
			t.Fatal(de.Fields)
		}
		u = single(f, strings.Repeat("0", 64))
		f.blobs.objects[u.ObjectKey] = []byte(content)
		_, err = f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		if de := wantCode(t, "another SHA-256", err, domain.CodeUnprocessable); de.Fields[0].Pointer != "/sha256" {
			t.Fatal(de.Fields)
		}
		if len(f.store.files) != 0 {
			t.Fatal("a file was made")
		}
	})
	t.Run("expired or aborted", func(t *testing.T) {
		f := newFixture()
		u := single(f, "")
		f.blobs.objects[u.ObjectKey] = []byte(content)
		expired := f.store.uploads[u.ID]
		expired.ExpiresAt = time.Now().Add(-time.Second)
		f.store.uploads[u.ID] = expired
		_, err := f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		wantCode(t, "expired", err, domain.CodeConflict)
		aborted := expired
		now := time.Now()
		aborted.ExpiresAt, aborted.AbortedAt = now.Add(time.Hour), &now
		f.store.uploads[u.ID] = aborted
		_, err = f.svc.CompleteUpload(f.ctx(), f.team, u.ID, nil)
		wantCode(t, "aborted", err, domain.CodeConflict)
		_, err = f.svc.CompleteUpload(f.ctx(), newFixture().team, u.ID, nil)
		wantCode(t, "another team's upload", err, domain.CodeNotFound)
	})
	t.Run("multipart parts", func(t *testing.T) {
		f := newFixture()
		u, err := f.svc.CreateUpload(f.ctx(), f.team, "big.bin", files.MultipartThreshold+1, "")
		if err != nil {
			t.Fatal(err)
		}
		parts := func(ns ...int) []domain.CompletedPart {
			out := make([]domain.CompletedPart, len(ns))
			for i, n := range ns {
				out[i] = domain.CompletedPart{Number: n, ETag: "e"}
			}
			return out
		}
		for name, ps := range map[string][]domain.CompletedPart{
			"too few": parts(1, 2, 3), "a duplicate": parts(1, 2, 3, 4, 5, 6, 7, 8, 8), "a gap": parts(1, 2, 3, 4, 5, 6, 7, 8, 10),
		} {
			_, err := f.svc.CompleteUpload(f.ctx(), f.team, u.ID, ps)
			if de := wantCode(t, name, err, domain.CodeUnprocessable); de.Fields[0].Pointer != "/parts" {
				t.Fatalf("%s: %+v", name, de.Fields)
			}
		}
		if len(f.blobs.completed) != 0 {
			t.Fatal("storage was asked to complete bad parts")
		}
		// Sent out of order, the parts go to storage in order.
		_, _ = f.svc.CompleteUpload(f.ctx(), f.team, u.ID, parts(9, 1, 2, 3, 4, 5, 6, 7, 8))
		got := f.blobs.completed[u.ObjectKey]
		for i, p := range got {
			if p.Number != i+1 {
				t.Fatalf("storage got parts %+v", got)
			}
		}
		if len(got) != 9 {
			t.Fatalf("storage got %d parts", len(got))
		}
	})
}
