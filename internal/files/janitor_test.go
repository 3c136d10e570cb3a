package files_test

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
	"github.com/conveyorhq/conveyor/internal/files"
)

// fakeJanitorStore holds deleted teams, their open uploads and whether
// their rows were purged: what PurgeDeletedTeams uses.
type fakeJanitorStore struct {
	files.JanitorStore
	toPurge  map[uuid.UUID]bool // deleted team -> purged
	uploads  map[uuid.UUID][]domain.Upload
	rowsGone map[uuid.UUID]bool
}

func (f *fakeJanitorStore) TeamsToPurge(context.Context, int) ([]uuid.UUID, error) {
	var out []uuid.UUID
	for id, purged := range f.toPurge {
		if !purged {
			out = append(out, id)
		}
	}
	return out, nil
}

func (f *fakeJanitorStore) TeamOpenUploads(_ context.Context, team uuid.UUID, _ int) ([]domain.Upload, error) {
	var out []domain.Upload
	for _, u := range f.uploads[team] {
		if u.AbortedAt == nil {
			out = append(out, u)
		}
	}
	return out, nil
}

func (f *fakeJanitorStore) AbortUpload(_ context.Context, id uuid.UUID) error {
	for team, us := range f.uploads {
		for i := range us {
			if us[i].ID == id {
				now := time.Now()
				f.uploads[team][i].AbortedAt = &now
			}
		}
	}
	return nil
}

func (f *fakeJanitorStore) PurgeTeamRows(_ context.Context, team uuid.UUID) error {
	f.rowsGone[team] = true
	return nil
}

func (f *fakeJanitorStore) MarkTeamPurged(_ context.Context, team uuid.UUID) error {
	f.toPurge[team] = true
	return nil
}

// fakeBucket is objects and unfinished multipart uploads by key.
type fakeBucket struct {
	files.JanitorBlobs
	objects   map[string]bool
	multipart map[string]time.Time // upload id "key" -> initiated
	aborted   []string
}

func (b *fakeBucket) List(_ context.Context, prefix string, fn func(string, time.Time) error) error {
	var keys []string
	for k := range b.objects {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := fn(k, time.Now()); err != nil {
			return err
		}
	}
	return nil
}

func (b *fakeBucket) ListMultipart(_ context.Context, prefix string, fn func(string, string, time.Time) error) error {
	for k, at := range b.multipart {
		if strings.HasPrefix(k, prefix) {
			if err := fn(k, "id-"+k, at); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *fakeBucket) Delete(_ context.Context, key string) error {
	delete(b.objects, key)
	return nil
}

func (b *fakeBucket) AbortMultipart(_ context.Context, key, _ string) error {
	delete(b.multipart, key)
	b.aborted = append(b.aborted, key)
	return nil
}

// TestPurgeDeletedTeams: a deleted team's recorded uploads and old stray
// multipart uploads are aborted and its objects removed, then its rows;
// a young multipart upload (an upload still streaming in) is left to end
// and keeps the team from being marked purged, as does any pass that
// found something; another team's objects are never touched.
func TestPurgeDeletedTeams(t *testing.T) {
	ctx := context.Background()
	dead, alive := uuid.New(), uuid.New()
	prefix := files.TeamPrefix(dead)
	store := &fakeJanitorStore{toPurge: map[uuid.UUID]bool{dead: false}, rowsGone: map[uuid.UUID]bool{},
		uploads: map[uuid.UUID][]domain.Upload{dead: {{ID: uuid.New(), TeamID: dead, ObjectKey: prefix + "files/u1", S3UploadID: "s3-u1"}}}}
	bucket := &fakeBucket{
		objects: map[string]bool{prefix + "files/a": true, prefix + "jobs/j/1/out.png": true, files.TeamPrefix(alive) + "files/b": true},
		multipart: map[string]time.Time{prefix + "files/u1": time.Now().Add(-time.Hour), prefix + "jobs/j/1/rows.jsonl": time.Now().Add(-time.Hour),
			prefix + "files/streaming": time.Now(), files.TeamPrefix(alive) + "files/c": time.Now().Add(-time.Hour)}}
	j := &files.Janitor{Store: store, Blobs: bucket, Grace: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}

	n, err := j.PurgeDeletedTeams(ctx)
	if err != nil || n != 2 {
		t.Fatalf("first pass: %d objects, %v; want 2", n, err)
	}
	if len(bucket.objects) != 1 || !bucket.objects[files.TeamPrefix(alive)+"files/b"] {
		t.Fatalf("objects left: %v", bucket.objects)
	}
	if _, ok := bucket.multipart[prefix+"files/streaming"]; !ok || len(bucket.multipart) != 2 {
		t.Fatalf("multipart uploads left: %v (the young one stays, the other team's stays)", bucket.multipart)
	}
	if !store.rowsGone[dead] || store.toPurge[dead] || store.rowsGone[alive] {
		t.Fatalf("after the first pass: rows gone %v, purged %v", store.rowsGone, store.toPurge)
	}
	if _, err := j.PurgeDeletedTeams(ctx); err != nil || store.toPurge[dead] {
		t.Fatalf("with a young multipart upload left: purged %v (%v)", store.toPurge[dead], err)
	}
	time.Sleep(150 * time.Millisecond)         // the upload still streaming is now older than Grace
	bucket.objects[prefix+"files/late"] = true // and an object written after the first listing
	if n, err := j.PurgeDeletedTeams(ctx); err != nil || n != 1 || store.toPurge[dead] {
		t.Fatalf("third pass: %d, purged %v, %v", n, store.toPurge[dead], err)
	}
	if n, err := j.PurgeDeletedTeams(ctx); err != nil || n != 0 || !store.toPurge[dead] {
		t.Fatalf("a pass that finds nothing: %d, purged %v, %v", n, store.toPurge[dead], err)
	}
	if len(bucket.multipart) != 1 || len(bucket.objects) != 1 {
		t.Fatalf("the other team lost something: %v %v", bucket.objects, bucket.multipart)
	}
}
