// Package blob is Conveyor's S3 adapter (aws-sdk-go-v2): objects are
// streamed in and out, never held whole in memory.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/conveyorhq/conveyor/internal/domain"
)

// Options configures a Store.
type Options struct {
	Endpoint  string // empty: AWS
	Region    string
	Bucket    string
	AccessKey string // empty: the default credential chain
	SecretKey string
	PathStyle bool
	// PartSize is the multipart part size for streamed uploads; each upload
	// buffers (Concurrency+1) parts at most.
	PartSize    int64
	Concurrency int
}

// Store reads and writes objects in one bucket.
type Store struct {
	client   *s3.Client
	presign  *s3.PresignClient
	uploader *manager.Uploader
	bucket   string
}

// Open builds the S3 client. It does not contact the server.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.PartSize <= 0 {
		o.PartSize = manager.MinUploadPartSize // 5 MiB
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 2
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(o.Region),
		// Bodies are streams from HTTP requests: no request checksums unless
		// the operation requires them (a non-seekable body over plain HTTP
		// cannot carry one), and no response validation beyond what is asked.
		awsconfig.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		awsconfig.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if o.AccessKey != "" {
		loadOpts = append(loadOpts, awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(o.AccessKey, o.SecretKey, "")))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("blob: aws config: %w", err)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
	})
	return &Store{
		client:  client,
		presign: s3.NewPresignClient(client),
		uploader: manager.NewUploader(client, func(u *manager.Uploader) {
			u.PartSize = o.PartSize
			u.Concurrency = o.Concurrency
		}),
		bucket: o.Bucket,
	}, nil
}

// Client returns the underlying S3 client, for tests and benchmarks.
func (s *Store) Client() *s3.Client { return s.client }

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// Put streams body into the object at key. Small bodies go in one PutObject,
// larger ones as a multipart upload that is aborted if body fails.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, contentType string) error {
	_, err := s.uploader.Upload(ctx, &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(key),
		Body:        body,
		ContentType: aws.String(contentType),
	})
	if err != nil {
		return mapErr(err, "store the object")
	}
	return nil
}

// Get opens the object at key for reading; the caller closes it.
func (s *Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, mapErr(err, "read the object")
	}
	return out.Body, nil
}

// Delete removes the object at key; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return mapErr(err, "delete the object")
	}
	return nil
}

// PresignGet returns a URL that downloads the object for ttl.
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)},
		s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: presign: %w", err)
	}
	return req.URL, nil
}

// Ready reports an error when the bucket cannot be reached.
func (s *Store) Ready(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)})
	if err != nil {
		return fmt.Errorf("blob: head bucket: %w", err)
	}
	return nil
}

// mapErr turns S3 errors into domain errors: a missing object into
// CodeNotFound, anything else into CodeUnavailable (the store could not do
// what was asked; the cause is logged, never shown).
func mapErr(err error, what string) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return domain.Wrap(err, domain.CodeNotFound, "Object not found.")
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotFound" {
		return domain.Wrap(err, domain.CodeNotFound, "Object not found.")
	}
	return &domain.Error{Code: domain.CodeUnavailable, Message: "Storage is unavailable; try again shortly.",
		RetryAfter: 5 * time.Second, Err: fmt.Errorf("blob: %s: %w", what, err)}
}
