package jobs

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Downloads is what the service needs from object storage to hand outputs
// to clients: a short-lived URL (PresignDownload) or the bytes themselves
// (OpenDownload, a range spec "" for all of them), both served as name of
// media type contentType. Storage presents both alike, keeping a browser
// from rendering what is not safe to.
type Downloads interface {
	PresignDownload(ctx context.Context, key, name, contentType string, ttl time.Duration) (string, error)
	OpenDownload(ctx context.Context, key, spec, name, contentType string) (domain.Download, error)
}

// downloadTTL is how long a presigned output URL works.
const downloadTTL = 5 * time.Minute

// Outputs lists a team's job's outputs.
func (s *Service) Outputs(ctx context.Context, teamID, id uuid.UUID) ([]domain.JobOutput, error) {
	if err := s.allow(ctx, "listJobOutputs", teamID); err != nil {
		return nil, err
	}
	return s.Store.JobOutputs(ctx, teamID, id)
}

// OutputURL returns a short-lived URL that downloads a job's output.
func (s *Service) OutputURL(ctx context.Context, teamID, id uuid.UUID, name string) (string, error) {
	if err := s.allow(ctx, "downloadJobOutput", teamID); err != nil {
		return "", err
	}
	o, err := s.Store.JobOutput(ctx, teamID, id, name)
	if err != nil {
		return "", err
	}
	return s.Blobs.PresignDownload(ctx, o.ObjectKey, o.Name, o.ContentType, downloadTTL)
}

// OpenOutput opens a team's job's output for streaming through the API,
// presented as its presigned download is (only safe types inline, under
// the output's name); the caller closes its Body. An unknown job or name
// is a CodeNotFound error.
func (s *Service) OpenOutput(ctx context.Context, teamID, id uuid.UUID, name string) (domain.Download, error) {
	if err := s.allow(ctx, "downloadJobOutput", teamID); err != nil {
		return domain.Download{}, err
	}
	o, err := s.Store.JobOutput(ctx, teamID, id, name)
	if err != nil {
		return domain.Download{}, err
	}
	return s.Blobs.OpenDownload(ctx, o.ObjectKey, "", o.Name, o.ContentType)
}
