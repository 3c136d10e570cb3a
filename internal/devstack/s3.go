package devstack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

type s3Creds struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// loadOrMakeS3Creds generates the gateway's root credentials, or with Keep
// reuses those saved by a previous run.
func (s *Stack) loadOrMakeS3Creds() error {
	if s.opts.Keep {
		data, err := os.ReadFile(s.paths.s3Creds)
		if err == nil {
			var c s3Creds
			if err := json.Unmarshal(data, &c); err == nil && c.AccessKey != "" && c.SecretKey != "" {
				s.S3AccessKey, s.S3SecretKey = c.AccessKey, c.SecretKey
				return nil
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("devstack: read s3 credentials: %w", err)
		}
	}
	s.S3AccessKey = "DEV" + randomString(17, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
	s.S3SecretKey = randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
	if s.opts.Keep {
		data, err := json.Marshal(s3Creds{AccessKey: s.S3AccessKey, SecretKey: s.S3SecretKey})
		if err != nil {
			return fmt.Errorf("devstack: encode s3 credentials: %w", err)
		}
		if err := os.WriteFile(s.paths.s3Creds, data, 0o600); err != nil {
			return fmt.Errorf("devstack: save s3 credentials: %w", err)
		}
	}
	return nil
}

// randomString returns n characters drawn uniformly from alphabet.
func randomString(n int, alphabet string) string {
	out := make([]byte, n)
	buf := make([]byte, 1)
	limit := 256 - 256%len(alphabet) // reject to avoid modulo bias
	for i := 0; i < n; {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails on Linux
		if int(buf[0]) >= limit {
			continue
		}
		out[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(out)
}

// S3Client returns an S3 client for the stack's gateway: static
// credentials, path-style addressing, and checksums only where required
// (plain HTTP cannot carry streaming trailing checksums).
func (s *Stack) S3Client() *s3.Client {
	return s3.New(s.s3Options())
}

func (s *Stack) s3Options() s3.Options {
	return s3.Options{
		Region:                     s.S3Region,
		BaseEndpoint:               aws.String(s.S3Endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(s.S3AccessKey, s.S3SecretKey, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
}

// StartS3 starts versitygw (if it is not running) and waits until
// ListBuckets succeeds and lists the application bucket.
func (s *Stack) StartS3(ctx context.Context) error {
	s.mu.Lock()
	if err := s.errIfStopped(); err != nil {
		s.mu.Unlock()
		return err
	}
	p := s.s3
	if p == nil || p.exited() {
		var err error
		p, err = startProc(procSpec{
			name: "versitygw",
			path: s.bins.versitygw,
			args: []string{
				"--access", s.S3AccessKey,
				"--secret", s.S3SecretKey,
				"--region", s.S3Region,
				"--port", s.S3Endpoint[len("http://"):],
				"--quiet",
				"posix", s.paths.s3Root,
			},
			dir:     s.Dir,
			logPath: filepath.Join(s.paths.logs, "versitygw.log"),
			stopSig: syscall.SIGTERM,
		})
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("devstack: start s3: %w", err)
		}
		s.s3 = p
	}
	s.mu.Unlock()

	began := time.Now()
	opts := s.s3Options()
	opts.RetryMaxAttempts = 1
	opts.HTTPClient = &http.Client{Timeout: 2 * time.Second}
	client := s3.New(opts)
	created := false
	check := func(ctx context.Context) error {
		out, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err != nil {
			return err
		}
		if slices.ContainsFunc(out.Buckets, func(b types.Bucket) bool { return aws.ToString(b.Name) == s.S3Bucket }) {
			return nil
		}
		if !created {
			// The gateway did not pick up the folder as a bucket; create
			// it through the API instead.
			created = true
			_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(s.S3Bucket)})
			var owned *types.BucketAlreadyOwnedByYou
			if err != nil && !errors.As(err, &owned) {
				return fmt.Errorf("create bucket %s: %w", s.S3Bucket, err)
			}
		}
		return fmt.Errorf("bucket %s not listed", s.S3Bucket)
	}
	if err := waitReady(ctx, "versitygw", p, check); err != nil {
		return fmt.Errorf("devstack: start s3: %w", err)
	}
	if err := s.putBucketCORS(ctx, client); err != nil {
		return fmt.Errorf("devstack: start s3: %w", err)
	}
	s.logf("s3 (versitygw) ready on %s, bucket %q, CORS for %v (%s)", s.S3Endpoint, s.S3Bucket, ConsoleOrigins, time.Since(began).Round(time.Millisecond))
	return nil
}

// ConsoleOrigins are the browser origins the bucket's CORS rule admits: any
// port on the loopback names, because the console is served wherever
// `conveyor dev` or a test puts the API (CONVEYOR_PUBLIC_URL, or a port
// chosen after the stack is up). versitygw matches each pattern with its
// single "*" against the whole Origin, so "http://127.0.0.1:*" admits
// "http://127.0.0.1:8080" but not "http://127.0.0.1.evil.example:8080".
var ConsoleOrigins = []string{"http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"}

// putBucketCORS sets the bucket's CORS rule so that the console can PUT
// presigned parts straight to storage and read each part's ETag, and GET or
// HEAD presigned downloads. versitygw's global --cors-allow-origin takes one
// literal origin and is used only for buckets without a rule, so the rule
// is set on the bucket; it is stored with the bucket and set again on every
// start.
func (s *Stack) putBucketCORS(ctx context.Context, client *s3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	_, err := client.PutBucketCors(ctx, &s3.PutBucketCorsInput{
		Bucket: aws.String(s.S3Bucket),
		CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
			ID:             aws.String("conveyor-console"),
			AllowedOrigins: ConsoleOrigins,
			AllowedMethods: []string{http.MethodGet, http.MethodPut, http.MethodHead},
			AllowedHeaders: []string{"*"},
			ExposeHeaders:  []string{"ETag"},
			MaxAgeSeconds:  aws.Int32(600),
		}}},
	})
	if err != nil {
		return fmt.Errorf("put bucket cors on %s: %w", s.S3Bucket, err)
	}
	return nil
}

// StopS3 stops versitygw and waits until it is gone.
func (s *Stack) StopS3() error {
	s.mu.Lock()
	p := s.s3
	s.mu.Unlock()
	if err := p.stop(); err != nil {
		return fmt.Errorf("devstack: stop s3: %w", err)
	}
	return nil
}
