package devstack_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/conveyorhq/conveyor/internal/devstack"
	"github.com/conveyorhq/conveyor/internal/devstack/devstacktest"
)

// TestS3CORSAdmitsTheConsole drives versitygw the way a browser on the
// console's origin does for a direct upload: a preflight for the presigned
// part PUT, then the PUT itself, whose ETag must be readable. Origins off
// loopback, and look-alikes of the loopback patterns, get no CORS grant.
func TestS3CORSAdmitsTheConsole(t *testing.T) {
	st := devstacktest.StartForTest(t, 1)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	client := st.S3Client()
	key := "cors/part-probe"
	mp, err := client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(st.S3Bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("CreateMultipartUpload: %v", err)
	}
	t.Cleanup(func() {
		_, _ = client.AbortMultipartUpload(context.Background(), &s3.AbortMultipartUploadInput{
			Bucket: aws.String(st.S3Bucket), Key: aws.String(key), UploadId: mp.UploadId})
	})
	presign := s3.NewPresignClient(client)
	part, err := presign.PresignUploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(st.S3Bucket), Key: aws.String(key),
		UploadId: mp.UploadId, PartNumber: aws.Int32(1)}, s3.WithPresignExpires(5*time.Minute))
	if err != nil {
		t.Fatalf("PresignUploadPart: %v", err)
	}

	do := func(t *testing.T, method, url, origin string, hdr map[string]string, body []byte) *http.Response {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		_ = res.Body.Close()
		return res
	}
	preflight := func(t *testing.T, url, origin, method string) *http.Response {
		t.Helper()
		return do(t, http.MethodOptions, url, origin, map[string]string{
			"Access-Control-Request-Method":  method,
			"Access-Control-Request-Headers": "content-type",
		}, nil)
	}
	hasToken := func(list, want string) bool {
		for v := range strings.SplitSeq(list, ",") {
			if strings.EqualFold(strings.TrimSpace(v), want) {
				return true
			}
		}
		return false
	}

	for _, origin := range []string{"http://127.0.0.1:43117", "http://localhost:8080", "http://[::1]:8080"} {
		t.Run("allowed "+origin, func(t *testing.T) {
			res := preflight(t, part.URL, origin, http.MethodPut)
			if res.StatusCode != http.StatusOK && res.StatusCode != http.StatusNoContent {
				t.Fatalf("preflight: status %d, want 200 or 204", res.StatusCode)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin {
				t.Errorf("preflight Access-Control-Allow-Origin = %q, want %q", got, origin)
			}
			if got := res.Header.Get("Access-Control-Allow-Methods"); !hasToken(got, "PUT") {
				t.Errorf("preflight Access-Control-Allow-Methods = %q, want PUT in it", got)
			}
			if got := res.Header.Get("Access-Control-Allow-Headers"); !hasToken(got, "content-type") {
				t.Errorf("preflight Access-Control-Allow-Headers = %q, want content-type in it", got)
			}
			if got := res.Header.Get("Access-Control-Max-Age"); got != "600" {
				t.Errorf("preflight Access-Control-Max-Age = %q, want 600", got)
			}
		})
	}

	t.Run("part PUT exposes ETag", func(t *testing.T) {
		origin := "http://127.0.0.1:43117"
		res := do(t, http.MethodPut, part.URL, origin, nil, bytes.Repeat([]byte("c"), 1024))
		if res.StatusCode != http.StatusOK {
			t.Fatalf("PUT part: status %d", res.StatusCode)
		}
		if res.Header.Get("ETag") == "" {
			t.Fatal("PUT part: no ETag")
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("PUT Access-Control-Allow-Origin = %q, want %q", got, origin)
		}
		if got := res.Header.Get("Access-Control-Expose-Headers"); !hasToken(got, "ETag") {
			t.Errorf("PUT Access-Control-Expose-Headers = %q, want ETag in it", got)
		}
	})

	t.Run("presigned GET", func(t *testing.T) {
		obj := "cors/get-probe"
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(st.S3Bucket), Key: aws.String(obj),
			Body: bytes.NewReader([]byte("hello"))}); err != nil {
			t.Fatalf("PutObject: %v", err)
		}
		get, err := presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(st.S3Bucket), Key: aws.String(obj)},
			s3.WithPresignExpires(5*time.Minute))
		if err != nil {
			t.Fatalf("PresignGetObject: %v", err)
		}
		origin := "http://localhost:8080"
		res := do(t, http.MethodGet, get.URL, origin, nil, nil)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET: status %d", res.StatusCode)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != origin {
			t.Errorf("GET Access-Control-Allow-Origin = %q, want %q", got, origin)
		}
	})

	for _, origin := range []string{"https://evil.example", "http://127.0.0.1.evil.example:8080", "http://localhost.evil.example:8080", "https://127.0.0.1:8443"} {
		t.Run("refused "+origin, func(t *testing.T) {
			res := preflight(t, part.URL, origin, http.MethodPut)
			if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNoContent {
				t.Errorf("preflight: status %d, want a refusal", res.StatusCode)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("preflight Access-Control-Allow-Origin = %q, want none", got)
			}
			res = do(t, http.MethodPut, part.URL, origin, nil, bytes.Repeat([]byte("e"), 1024))
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("PUT Access-Control-Allow-Origin = %q, want none", got)
			}
		})
	}

	t.Run("methods outside the rule", func(t *testing.T) {
		res := preflight(t, part.URL, "http://127.0.0.1:43117", http.MethodDelete)
		if res.StatusCode == http.StatusOK || res.StatusCode == http.StatusNoContent {
			t.Errorf("DELETE preflight: status %d, want a refusal", res.StatusCode)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("DELETE preflight Access-Control-Allow-Origin = %q, want none", got)
		}
	})

	t.Run("a restart keeps the rule", func(t *testing.T) {
		if err := st.StopS3(); err != nil {
			t.Fatalf("StopS3: %v", err)
		}
		if err := st.StartS3(ctx); err != nil {
			t.Fatalf("StartS3: %v", err)
		}
		out, err := client.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(st.S3Bucket)})
		if err != nil {
			t.Fatalf("GetBucketCors: %v", err)
		}
		if len(out.CORSRules) != 1 || len(out.CORSRules[0].AllowedOrigins) != len(devstack.ConsoleOrigins) {
			t.Fatalf("CORS rules after restart: %+v", out.CORSRules)
		}
		res := preflight(t, part.URL, "http://127.0.0.1:43117", http.MethodPut)
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "http://127.0.0.1:43117" {
			t.Errorf("preflight after restart: status %d, Access-Control-Allow-Origin = %q", res.StatusCode, got)
		}
	})
}
