// Package blob is Conveyor's S3 adapter (aws-sdk-go-v2): objects are
// streamed in and out, never held whole in memory.
package blob

//lint:file-ignore SA1019 manager.Uploader stays on purpose: its replacement, transfermanager, buffers even seekable bodies, and this adapter bounds memory per upload with an explicit PartSize (see TOOLING.md, "feature/s3/manager Uploader").

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
	Trace       bool // a span per S3 operation
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
		if o.Trace {
			so.APIOptions = append(so.APIOptions, traceOperations(o.Bucket))
		}
	})
	return &Store{
		client:  client,
		presign: s3.NewPresignClient(client),
		uploader: manager.NewUploader(client, func(u *manager.Uploader) {
			u.PartSize = o.PartSize
			u.Concurrency = o.Concurrency
			// The body is hashed (SHA-256) once already, for the file's
			// digest; signing each part's payload would hash it again.
			// Parts are sent as UNSIGNED-PAYLOAD (integrity is TLS's, in
			// production, and the digest's).
			u.ClientOptions = append(u.ClientOptions, func(so *s3.Options) {
				so.APIOptions = append(so.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
			})
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

// PresignGet returns a URL that downloads the object for ttl, as an
// attachment of no particular type (see PresignDownload to give it a name
// and a type).
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return s.PresignDownload(ctx, key, "", "", ttl)
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

// Head returns the object's size, or a not-found error.
func (s *Store) Head(ctx context.Context, key string) (int64, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, mapErr(err, "head the object")
	}
	return aws.ToInt64(out.ContentLength), nil
}

// GetRange opens the object at key for the byte range spec ("bytes=a-b";
// empty: all of it) and returns its body, the Content-Range S3 answered
// (empty for a whole object) and the length sent. A range outside the
// object is a CodeRangeNotSatisfiable error.
func (s *Store) GetRange(ctx context.Context, key, spec string) (io.ReadCloser, string, int64, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}
	if spec != "" {
		in.Range = aws.String(spec)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			return nil, "", 0, domain.Wrap(err, domain.CodeRangeNotSatisfiable, "The Range does not overlap the file.")
		}
		return nil, "", 0, mapErr(err, "read the object")
	}
	return out.Body, aws.ToString(out.ContentRange), aws.ToInt64(out.ContentLength), nil
}

// PresignPut returns a URL that stores size bytes at key with one PUT.
func (s *Store) PresignPut(ctx context.Context, key string, size int64, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		ContentLength: aws.Int64(size)}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: presign put: %w", err)
	}
	return req.URL, nil
}

// StartMultipart begins a multipart upload at key and returns its id.
func (s *Store) StartMultipart(ctx context.Context, key string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return "", mapErr(err, "start a multipart upload")
	}
	return aws.ToString(out.UploadId), nil
}

// PresignPart returns a URL that stores part n of a multipart upload.
func (s *Store) PresignPart(ctx context.Context, key, uploadID string, n int, ttl time.Duration) (string, error) {
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		UploadId: aws.String(uploadID), PartNumber: aws.Int32(int32(n))}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("blob: presign part: %w", err)
	}
	return req.URL, nil
}

// CompleteMultipart assembles the parts. Parts that S3 does not know (a
// wrong ETag, a missing part) are an unprocessable error.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []domain.CompletedPart) error {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key),
		UploadId: aws.String(uploadID), MultipartUpload: &types.CompletedMultipartUpload{Parts: cp}})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			switch ae.ErrorCode() {
			case "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload", "MalformedXML":
				return domain.Wrap(err, domain.CodeUnprocessable, "The parts do not match what storage received: "+ae.ErrorCode()+".")
			}
		}
		return mapErr(err, "complete the multipart upload")
	}
	return nil
}

// AbortMultipart discards a multipart upload and its parts; an unknown
// upload is not an error.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.bucket), Key: aws.String(key), UploadId: aws.String(uploadID)})
	var nsu *types.NoSuchUpload
	if err != nil && !errors.As(err, &nsu) {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "NoSuchUpload" {
			return nil
		}
		return mapErr(err, "abort the multipart upload")
	}
	return nil
}

// List calls fn with the key and last-modified time of every object under
// prefix, page by page.
func (s *Store) List(ctx context.Context, prefix string, fn func(key string, modified time.Time) error) error {
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return mapErr(err, "list objects")
		}
		for _, o := range page.Contents {
			if err := fn(aws.ToString(o.Key), aws.ToTime(o.LastModified)); err != nil {
				return err
			}
		}
	}
	return nil
}

// ListMultipart calls fn with the key, upload id and start time of every
// unfinished multipart upload under prefix, page by page.
func (s *Store) ListMultipart(ctx context.Context, prefix string, fn func(key, uploadID string, initiated time.Time) error) error {
	p := s3.NewListMultipartUploadsPaginator(s.client, &s3.ListMultipartUploadsInput{Bucket: aws.String(s.bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return mapErr(err, "list multipart uploads")
		}
		for _, u := range page.Uploads {
			if err := fn(aws.ToString(u.Key), aws.ToString(u.UploadId), aws.ToTime(u.Initiated)); err != nil {
				return err
			}
		}
	}
	return nil
}
