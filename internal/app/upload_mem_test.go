package app_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	conveyor "github.com/conveyorhq/conveyor/clients/go"
)

// patterned yields n bytes without holding them.
type patterned struct{ n, off int64 }

func (p *patterned) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if rest := p.n - p.off; int64(len(b)) > rest {
		b = b[:rest]
	}
	for i := range b {
		b[i] = byte((p.off + int64(i)) * 31)
	}
	p.off += int64(len(b))
	return len(b), nil
}

// procStatusKB reads a field (VmRSS, VmHWM) of /proc/self/status in KiB.
func procStatusKB(t testing.TB, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status on this system")
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, field+":") {
			n, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return n
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// peakRSSGrowth runs fn and returns how far the process's resident set
// rose above where it stood before (the high-water mark is reset first).
func peakRSSGrowth(t testing.TB, fn func()) int64 {
	t.Helper()
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the RSS high-water mark: %v", err)
	}
	before := procStatusKB(t, "VmRSS")
	fn()
	return procStatusKB(t, "VmHWM") - before
}

// TestUploadMemoryIsBounded streams 1 GiB through the API and checks that
// the process (API, worker and this client, all in it) grew its resident
// set by a bounded amount, independent of the file's size: the upload is
// never held whole.
func TestUploadMemoryIsBounded(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	admin := sdk(t, e, e.Token(t, "mem-admin", true))
	team, err := admin.CreateTeam(ctx, "Memory")
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 30
	var uploaded int64
	growth := peakRSSGrowth(t, func() {
		file, err := admin.UploadFile(ctx, team.Id, "one-gib.bin", &patterned{n: size})
		if err != nil {
			t.Fatal(err)
		}
		uploaded = file.Size
	})
	t.Logf("1 GiB upload: peak RSS growth %.1f MiB", float64(growth)/1024)
	fmt.Printf("upload 1 GiB: peak RSS growth %.1f MiB\n", float64(growth)/1024)
	if uploaded != size {
		t.Fatalf("uploaded %d bytes", uploaded)
	}
	if growth > 160<<10 {
		t.Fatalf("peak RSS grew by %d KiB for a 1 GiB upload; want a bound independent of size (< 160 MiB)", growth)
	}
}

// BenchmarkUpload compares streaming a file through the API (multipart
// request → API → S3) with the baseline: a direct PutObject of the same
// bytes to the same S3 server.
func BenchmarkUpload(b *testing.B) {
	env := shared.Env(b)
	ctx := context.Background()
	admin, err := conveyor.New(env.URL, conveyor.WithToken(env.Token(b, "bench-upload", true)))
	if err != nil {
		b.Fatal(err)
	}
	team, err := admin.CreateTeam(ctx, "Bench uploads")
	if err != nil {
		b.Fatal(err)
	}
	const size = 64 << 20
	data := bytes.Repeat([]byte("conveyor"), size/8)
	b.Run("api-streamed", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			if _, err := admin.UploadFile(ctx, team.Id, "bench.bin", bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("s3-direct-putobject", func(b *testing.B) {
		c := env.Stack.S3Client()
		b.SetBytes(size)
		for i := 0; b.Loop(); i++ {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(env.Stack.S3Bucket),
				Key: aws.String(fmt.Sprintf("bench/direct-%d", i)), Body: bytes.NewReader(data)})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rss-growth-1GiB", func(b *testing.B) {
		for b.Loop() {
			growth := peakRSSGrowth(b, func() {
				if _, err := admin.UploadFile(ctx, team.Id, "bench-1g.bin", &patterned{n: 1 << 30}); err != nil {
					b.Fatal(err)
				}
			})
			b.ReportMetric(float64(growth)/1024, "peak-rss-growth-MiB")
		}
	})
}
