package files_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// allowAll lets every caller through: the tests below are about the rules
// behind the role check (internal/authz tests the checks themselves).
type allowAll struct{}

func (allowAll) Check(context.Context, string, *uuid.UUID) error { return nil }

// refuseAll refuses every caller.
type refuseAll struct{}

func (refuseAll) Check(context.Context, string, *uuid.UUID) error {
	return domain.Errorf(domain.CodeNotFound, "Team not found.")
}

// memStore keeps files and uploads in memory.
type memStore struct {
	mu        sync.Mutex
	files     map[uuid.UUID]domain.File
	uploads   map[uuid.UUID]domain.Upload
	createErr error // CreateFile fails with it
	asked     int   // calls that read or wrote
}

func newMemStore() *memStore {
	return &memStore{files: map[uuid.UUID]domain.File{}, uploads: map[uuid.UUID]domain.Upload{}}
}

var errNotFound = domain.Errorf(domain.CodeNotFound, "Not found.")

func (m *memStore) CreateFile(_ context.Context, f domain.File, _ int64) (domain.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	if m.createErr != nil {
		return domain.File{}, m.createErr
	}
	f.CreatedAt = time.Now().UTC()
	m.files[f.ID] = f
	return f, nil
}

func (m *memStore) File(_ context.Context, teamID, id uuid.UUID) (domain.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	f, ok := m.files[id]
	if !ok || f.TeamID != teamID {
		return domain.File{}, errNotFound
	}
	return f, nil
}

func (m *memStore) Files(_ context.Context, teamID uuid.UUID, _ domain.FileFilter, _ domain.PageRequest) (domain.Page[domain.File], error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	var out domain.Page[domain.File]
	for _, f := range m.files {
		if f.TeamID == teamID {
			out.Items = append(out.Items, f)
		}
	}
	return out, nil
}

func (m *memStore) DeleteFile(ctx context.Context, teamID, id uuid.UUID) (domain.File, error) {
	f, err := m.File(ctx, teamID, id)
	if err != nil {
		return domain.File{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.files, id)
	return f, nil
}

func (m *memStore) CreateUpload(_ context.Context, u domain.Upload) (domain.Upload, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	m.uploads[u.ID] = u
	return u, nil
}

func (m *memStore) Upload(_ context.Context, teamID, id uuid.UUID) (domain.Upload, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.asked++
	u, ok := m.uploads[id]
	if !ok || u.TeamID != teamID {
		return domain.Upload{}, errNotFound
	}
	return u, nil
}

// CompleteUpload records f for the upload once; completing it again
// returns the file of the first completion, as the store does.
func (m *memStore) CompleteUpload(_ context.Context, teamID, uploadID uuid.UUID, f domain.File, _ int64) (domain.File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.uploads[uploadID]
	if !ok || u.TeamID != teamID {
		return domain.File{}, errNotFound
	}
	if u.CompletedFileID != nil {
		return m.files[*u.CompletedFileID], nil
	}
	m.files[f.ID] = f
	u.CompletedFileID = &f.ID
	m.uploads[uploadID] = u
	return f, nil
}

// memBlobs is object storage in memory.
type memBlobs struct {
	mu        sync.Mutex
	objects   map[string][]byte
	types     map[string]string
	completed map[string][]domain.CompletedPart
	opened    []string // range specs OpenDownload was asked for
}

func newMemBlobs() *memBlobs {
	return &memBlobs{objects: map[string][]byte{}, types: map[string]string{}, completed: map[string][]domain.CompletedPart{}}
}

func (b *memBlobs) Put(_ context.Context, key string, body io.Reader, contentType string) error {
	data, err := io.ReadAll(body)
	if err != nil {
		return err // nothing is stored of a body that failed
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.objects[key], b.types[key] = data, contentType
	return nil
}

func (b *memBlobs) Delete(_ context.Context, key string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.objects, key)
	return nil
}

func (b *memBlobs) Get(_ context.Context, key string) (io.ReadCloser, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.objects[key]
	if !ok {
		return nil, errNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *memBlobs) Head(_ context.Context, key string) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	data, ok := b.objects[key]
	if !ok {
		return 0, errNotFound
	}
	return int64(len(data)), nil
}

func (b *memBlobs) PresignDownload(_ context.Context, key, name, contentType string, ttl time.Duration) (string, error) {
	return "https://s3.test/" + key + "?" + url.Values{"name": {name}, "type": {contentType}, "ttl": {ttl.String()}}.Encode(), nil
}

func (b *memBlobs) OpenDownload(_ context.Context, key, spec, name, contentType string) (domain.Download, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.opened = append(b.opened, spec)
	data, ok := b.objects[key]
	if !ok {
		return domain.Download{}, errNotFound
	}
	return domain.Download{Body: io.NopCloser(bytes.NewReader(data)), Length: int64(len(data)), ContentRange: "bytes 0-0/1",
		ContentType: contentType, ContentDisposition: "attachment; filename=" + name}, nil
}

func (b *memBlobs) PresignPut(_ context.Context, key string, size int64, _ time.Duration) (string, error) {
	return "https://s3.test/" + key + "?put", nil
}

func (b *memBlobs) StartMultipart(_ context.Context, key string) (string, error) {
	return "mp-" + key, nil
}

func (b *memBlobs) PresignPart(_ context.Context, key, uploadID string, n int, _ time.Duration) (string, error) {
	return "https://s3.test/" + key + "?upload=" + uploadID + "&part=" + string(rune('0'+n%10)), nil
}

func (b *memBlobs) CompleteMultipart(_ context.Context, key, _ string, parts []domain.CompletedPart) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.completed[key] = parts
	return nil
}
