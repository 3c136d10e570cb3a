package processors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"testing"

	"github.com/conveyorhq/conveyor/internal/imaging/imagingtest"
)

// testImage is a w×h gradient with an opaque red top-left quarter.
func testImage(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(x * 255 / max(1, w-1)), uint8(y * 255 / max(1, h-1)), 128, 255}
			if x < w/2 && y < h/2 {
				c = color.NRGBA{255, 0, 0, 255}
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pngHeader is the start of a PNG that claims w×h pixels: the signature
// and a valid IHDR chunk, and nothing else.
func pngHeader(w, h uint32, depth, colorType byte) []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = depth, colorType
	b := []byte("\x89PNG\r\n\x1a\n")
	b = binary.BigEndian.AppendUint32(b, 13)
	chunk := append([]byte("IHDR"), ihdr...)
	b = append(b, chunk...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(chunk))
}

func runThumbnail(t *testing.T, th Thumbnail, content []byte, params string) (ThumbnailResult, *memOutputs, *progressLog) {
	t.Helper()
	in, outs, prog := fileInput(content, params)
	out, err := th.Run(context.Background(), in)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	var res ThumbnailResult
	if err := json.Unmarshal(out.Result, &res); err != nil {
		t.Fatal(err)
	}
	return res, outs, prog
}

func TestThumbnailScales(t *testing.T) {
	for _, tc := range []struct {
		name          string
		src           []byte
		srcFormat     string
		params        string
		wantW, wantH  int
		output, ctype string
	}{
		{"wide png to png", encodePNG(t, testImage(1000, 500)), "png", `{}`, 256, 128, "thumbnail.png", "image/png"},
		{"tall png in a wide box", encodePNG(t, testImage(300, 1000)), "png", `{"max_width":400,"max_height":256}`, 77, 256, "thumbnail.png", "image/png"},
		{"jpeg to jpeg", encodeJPEG(t, testImage(640, 480)), "jpeg", `{"format":"jpeg","quality":70,"max_width":100,"max_height":100}`, 100, 75, "thumbnail.jpg", "image/jpeg"},
		{"small image is not enlarged", encodePNG(t, testImage(100, 50)), "png", `{"max_width":1000,"max_height":1000}`, 100, 50, "thumbnail.png", "image/png"},
		{"thin line keeps a pixel", encodePNG(t, testImage(4000, 1)), "png", `{"max_width":100}`, 100, 1, "thumbnail.png", "image/png"},
		{"gif", encodeGIF(t, testImage(200, 200)), "gif", `{"max_width":50,"max_height":50,"format":"jpeg"}`, 50, 50, "thumbnail.jpg", "image/jpeg"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, outs, prog := runThumbnail(t, Thumbnail{}, tc.src, tc.params)
			if res.Width != tc.wantW || res.Height != tc.wantH || res.SourceFormat != tc.srcFormat {
				t.Fatalf("result %+v, want %d×%d from %s", res, tc.wantW, tc.wantH, tc.srcFormat)
			}
			o := outs.get(t, tc.output)
			if o.contentType != tc.ctype {
				t.Fatalf("content type %s, want %s", o.contentType, tc.ctype)
			}
			m, format, err := image.Decode(bytes.NewReader(o.body))
			if err != nil {
				t.Fatal(err)
			}
			if b := m.Bounds(); b.Dx() != tc.wantW || b.Dy() != tc.wantH || format != res.Format {
				t.Fatalf("output is %s %v, result says %s %d×%d", format, b, res.Format, res.Width, res.Height)
			}
			cfg, _, _ := image.DecodeConfig(bytes.NewReader(tc.src))
			if res.SourceWidth != cfg.Width || res.SourceHeight != cfg.Height {
				t.Fatalf("source %d×%d, want %d×%d", res.SourceWidth, res.SourceHeight, cfg.Width, cfg.Height)
			}
			prog.check(t, 10, 60)
			if len(outs.files) != 1 {
				t.Fatalf("outputs %v, want one", outs.names())
			}
		})
	}
}

func encodeGIF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := gif.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestThumbnailContent(t *testing.T) {
	// The red quarter stays where it was.
	res, outs, _ := runThumbnail(t, Thumbnail{}, encodePNG(t, testImage(800, 800)), `{"max_width":80,"max_height":80}`)
	m, _ := png.Decode(bytes.NewReader(outs.get(t, "thumbnail.png").body))
	if r, g, b, _ := m.At(10, 10).RGBA(); r>>8 < 240 || g>>8 > 15 || b>>8 > 15 {
		t.Fatalf("top-left of %+v is %d,%d,%d, want red", res, r>>8, g>>8, b>>8)
	}

	// Transparency becomes white in a JPEG, and stays in a PNG.
	clear := image.NewNRGBA(image.Rect(0, 0, 64, 64))
	_, outs, _ = runThumbnail(t, Thumbnail{}, encodePNG(t, clear), `{"format":"jpeg","max_width":32,"max_height":32}`)
	m, _ = jpeg.Decode(bytes.NewReader(outs.get(t, "thumbnail.jpg").body))
	if r, g, b, _ := m.At(16, 16).RGBA(); r>>8 < 245 || g>>8 < 245 || b>>8 < 245 {
		t.Fatalf("transparent pixel became %d,%d,%d in JPEG, want white", r>>8, g>>8, b>>8)
	}
	_, outs, _ = runThumbnail(t, Thumbnail{}, encodePNG(t, clear), `{"max_width":32,"max_height":32}`)
	m, _ = png.Decode(bytes.NewReader(outs.get(t, "thumbnail.png").body))
	if _, _, _, a := m.At(16, 16).RGBA(); a != 0 {
		t.Fatalf("transparent pixel has alpha %d in PNG", a)
	}
}

func TestThumbnailEXIFOrientation(t *testing.T) {
	// Stored 80×40: red left half, blue right half.
	src := image.NewRGBA(image.Rect(0, 0, 80, 40))
	for y := range 40 {
		for x := range 80 {
			c := color.RGBA{255, 0, 0, 255}
			if x >= 40 {
				c = color.RGBA{0, 0, 255, 255}
			}
			src.SetRGBA(x, y, c)
		}
	}
	plain := encodeJPEG(t, src)
	red := func(c color.Color) bool { r, _, b, _ := c.RGBA(); return r>>8 > 200 && b>>8 < 60 }
	blue := func(c color.Color) bool { r, _, b, _ := c.RGBA(); return b>>8 > 200 && r>>8 < 60 }
	for _, tc := range []struct {
		name         string
		o            uint16
		order        binary.AppendByteOrder
		w, h         int
		first, other image.Point // where red, then blue, should be
	}{
		{"none", 1, binary.BigEndian, 80, 40, image.Pt(10, 20), image.Pt(70, 20)},
		{"mirrored", 2, binary.LittleEndian, 80, 40, image.Pt(70, 20), image.Pt(10, 20)},
		{"upside down", 3, binary.BigEndian, 80, 40, image.Pt(70, 20), image.Pt(10, 20)},
		{"turn clockwise", 6, binary.BigEndian, 40, 80, image.Pt(20, 10), image.Pt(20, 70)},
		{"turn anticlockwise", 8, binary.LittleEndian, 40, 80, image.Pt(20, 70), image.Pt(20, 10)},
		{"transposed", 5, binary.BigEndian, 40, 80, image.Pt(20, 10), image.Pt(20, 70)},
		{"transversed", 7, binary.BigEndian, 40, 80, image.Pt(20, 70), image.Pt(20, 10)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, outs, _ := runThumbnail(t, Thumbnail{}, imagingtest.WithEXIFOrientation(plain, tc.o, tc.order), `{}`)
			m, _ := png.Decode(bytes.NewReader(outs.get(t, "thumbnail.png").body))
			if res.Width != tc.w || res.Height != tc.h || m.Bounds().Dx() != tc.w {
				t.Fatalf("result %+v, image %v; want %d×%d", res, m.Bounds(), tc.w, tc.h)
			}
			if res.SourceWidth != 80 || res.SourceHeight != 40 {
				t.Fatalf("source %d×%d, want the stored 80×40", res.SourceWidth, res.SourceHeight)
			}
			if !red(m.At(tc.first.X, tc.first.Y)) || !blue(m.At(tc.other.X, tc.other.Y)) {
				t.Fatalf("colours at %v and %v are %v and %v", tc.first, tc.other, m.At(tc.first.X, tc.first.Y), m.At(tc.other.X, tc.other.Y))
			}
		})
	}

	// A rotated image fits the box as shown: 80×40 turned is 40×80, which
	// a 20×20 box bounds by its height.
	res, _, _ := runThumbnail(t, Thumbnail{}, imagingtest.WithEXIFOrientation(plain, 6, binary.BigEndian), `{"max_width":20,"max_height":20}`)
	if res.Width != 10 || res.Height != 20 {
		t.Fatalf("rotated thumbnail %d×%d, want 10×20", res.Width, res.Height)
	}
}

func TestThumbnailRefuses(t *testing.T) {
	full := encodePNG(t, testImage(300, 200))
	for _, tc := range []struct {
		name    string
		th      Thumbnail
		content []byte
		params  string
		parts   []string
	}{
		{"text", Thumbnail{}, []byte("hello, world"), `{}`, []string{"not a PNG, JPEG or GIF"}},
		{"empty", Thumbnail{}, nil, `{}`, []string{"not a PNG, JPEG or GIF"}},
		{"bmp", Thumbnail{}, append([]byte("BM"), make([]byte, 100)...), `{}`, []string{"not a PNG, JPEG or GIF"}},
		{"huge claimed size", Thumbnail{}, pngHeader(100_000, 100_000, 8, 6), `{}`, []string{"100000×100000", "10000.0 megapixels", "up to 40.0 megapixels"}},
		{"over a 10 megapixel bound", Thumbnail{MaxPixels: 10_000_000}, pngHeader(4000, 3000, 8, 2), `{}`, []string{"4000×3000", "12.0 megapixels", "up to 10.0"}},
		{"16 bits a channel", Thumbnail{}, pngHeader(7000, 5000, 16, 6), `{}`, []string{"(35.0 megapixels) at 16 bits per channel", "about 267 MiB, more than thumbnail's 256 MiB"}},
		{"16 bits a channel, smaller", Thumbnail{}, pngHeader(6000, 5000, 16, 6), `{}`, []string{"PNG image is truncated"}},
		{"progressive jpeg", Thumbnail{}, imagingtest.JPEGSOF(0xC2, 6000, 4000, 0x11), `{}`, []string{"(24.0 megapixels) in progressive JPEG", "about 366 MiB"}},
		{"progressive jpeg, subsampled", Thumbnail{}, imagingtest.JPEGSOF(0xC2, 6000, 4000, 0x22), `{}`, []string{"JPEG image is truncated"}},
		{"baseline jpeg of the same size", Thumbnail{}, imagingtest.JPEGSOF(0xC0, 6000, 4000, 0x11), `{}`, []string{"JPEG image is truncated"}},
		{"a memory bound", Thumbnail{MaxDecodeBytes: 10 << 20}, pngHeader(2000, 2000, 8, 6), `{}`, []string{"about 15 MiB, more than thumbnail's 10 MiB"}},
		{"no pixels", Thumbnail{}, encodeGIF(t, image.NewPaletted(image.Rect(0, 0, 0, 0), color.Palette{color.Black})), `{}`, []string{"no pixels"}},
		{"within the bound but truncated", Thumbnail{MaxPixels: 10_000_000}, pngHeader(3000, 3000, 8, 2), `{}`, []string{"PNG image is truncated"}},
		{"cut in half", Thumbnail{}, full[:len(full)/2], `{}`, []string{"PNG image could not be decoded", "pixel data"}},
		{"corrupt", Thumbnail{}, corrupt(full), `{}`, []string{"could not be decoded"}},
		{"bad params", Thumbnail{}, full, `{"max_width":0}`, []string{"max_width"}},
		{"unknown params", Thumbnail{}, full, `{"width":10}`, []string{"params"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in, outs, _ := fileInput(tc.content, tc.params)
			_, err := tc.th.Run(context.Background(), in)
			wantInvalid(t, err, tc.parts...)
			if len(outs.files) != 0 {
				t.Fatalf("stored %v", outs.names())
			}
		})
	}
}

// corrupt flips bytes in the middle of an image's data.
func corrupt(b []byte) []byte {
	c := append([]byte{}, b...)
	for i := len(c) / 2; i < len(c)/2+16; i++ {
		c[i] ^= 0xFF
	}
	return c
}

// endless follows head with an unending stream of zeros, counting them.
type endless struct {
	head []byte
	n    int64
}

func (e *endless) Read(p []byte) (int, error) {
	n := copy(p, e.head)
	e.head = e.head[n:]
	for i := n; i < len(p); i++ {
		p[i] = 0
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestThumbnailReadsOnlyTheHeaderOfAHugeImage(t *testing.T) {
	src := &endless{head: pngHeader(50_000, 50_000, 8, 6)}
	in, _, _ := fileInput(nil, `{}`)
	in.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(src), nil }
	_, err := Thumbnail{}.Run(context.Background(), in)
	wantInvalid(t, err, "megapixels")
	if src.n > 1<<20 {
		t.Fatalf("read %d bytes to refuse it", src.n)
	}

	// A header that never ends is not read past the bound.
	src = &endless{head: []byte("\xff\xd8\xff\xe1")}
	in.Open = func(context.Context) (io.ReadCloser, error) { return io.NopCloser(src), nil }
	_, err = Thumbnail{}.Run(context.Background(), in)
	if err == nil || src.n > 2*maxImageHeader {
		t.Fatalf("err = %v after %d bytes", err, src.n)
	}
}

// failingReader returns data, then a transport error.
type failingReader struct {
	data []byte
}

func (f *failingReader) Read(p []byte) (int, error) {
	if len(f.data) == 0 {
		return 0, errors.New("connection reset by peer")
	}
	n := copy(p, f.data)
	f.data = f.data[n:]
	return n, nil
}

func TestThumbnailTransientFailures(t *testing.T) {
	full := encodePNG(t, testImage(300, 200))

	in, _, _ := fileInput(full, `{}`)
	in.Open = func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(&failingReader{data: full[:len(full)/2]}), nil
	}
	_, err := Thumbnail{}.Run(context.Background(), in)
	wantRetryable(t, err)

	in, _, _ = fileInput(full, `{}`)
	in.Open = func(context.Context) (io.ReadCloser, error) { return nil, errors.New("s3: 503") }
	_, err = Thumbnail{}.Run(context.Background(), in)
	wantRetryable(t, err)

	in, _, _ = fileInput(full, `{}`)
	in.Put = func(context.Context, string, string, io.Reader) (int64, error) { return 0, errors.New("s3: 503") }
	_, err = Thumbnail{}.Run(context.Background(), in)
	wantRetryable(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	in, _, _ = fileInput(full, `{}`)
	_, err = Thumbnail{}.Run(ctx, in)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestThumbnailDeterministic(t *testing.T) {
	src := encodeJPEG(t, testImage(500, 300))
	_, a, _ := runThumbnail(t, Thumbnail{}, src, `{"format":"jpeg"}`)
	_, b, _ := runThumbnail(t, Thumbnail{}, src, `{"format":"jpeg"}`)
	if !bytes.Equal(a.get(t, "thumbnail.jpg").body, b.get(t, "thumbnail.jpg").body) {
		t.Fatal("two runs made different thumbnails")
	}
}
