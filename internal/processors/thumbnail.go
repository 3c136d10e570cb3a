package processors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // register the decoders image.Decode uses
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"time"

	"github.com/conveyorhq/conveyor/internal/imaging"
)

// Thumbnail scales a PNG, JPEG or GIF image down to fit a box and stores it
// as a PNG or JPEG output. It reads the image's header first and refuses
// images over a number of pixels, or whose decoding would take more than a
// fixed amount of memory, so a small file that claims to be huge cannot
// exhaust the worker.
type Thumbnail struct {
	// MaxPixels bounds the source image; zero means 40 megapixels.
	MaxPixels int64
	// MaxDecodeBytes bounds the memory decoding may take, as estimated
	// from the header; zero means 256 MiB. It binds 16-bit images (8
	// bytes a pixel) and progressive JPEGs (which keep every coefficient).
	MaxDecodeBytes int64
}

// ThumbnailResult is Thumbnail's result.
type ThumbnailResult struct {
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Format       string `json:"format"`
	SourceWidth  int    `json:"source_width"`
	SourceHeight int    `json:"source_height"`
	SourceFormat string `json:"source_format"`
}

type thumbnailParams struct {
	MaxWidth  int    `json:"max_width"`
	MaxHeight int    `json:"max_height"`
	Format    string `json:"format"`
	Quality   int    `json:"quality"`
}

const (
	defaultMaxPixels      = 40_000_000
	defaultMaxDecodeBytes = 256 << 20
	// maxImageHeader bounds what is read to find an image's dimensions;
	// real headers (with EXIF, ICC profiles) are far smaller.
	maxImageHeader = 4 << 20
	maxThumbSide   = 4096
)

func (Thumbnail) Name() string { return "thumbnail" }

func (Thumbnail) Description() string {
	return "Scales a PNG, JPEG or GIF image (the first frame of a GIF) down to fit within max_width × max_height, " +
		"keeping its aspect ratio and never enlarging it, and stores it as the output thumbnail.png or thumbnail.jpg. " +
		"A JPEG's EXIF orientation is applied. Images over 40 megapixels, or that would take more than 256 MiB to decode " +
		"(16-bit PNGs and progressive JPEGs take more per pixel), are refused."
}

func (Thumbnail) NeedsFile() bool { return true }

// Priority implements Processor: thumbnails are shown to someone waiting.
func (Thumbnail) Priority() Priority { return PriorityHigh }

// Timeout implements Processor.
func (Thumbnail) Timeout() time.Duration { return 2 * time.Minute }

func (Thumbnail) ParamsSchema() string {
	return `{"type":"object","additionalProperties":false,"properties":{` +
		`"max_width":{"type":"integer","minimum":1,"maximum":4096,"default":256,"description":"Largest width of the thumbnail, in pixels."},` +
		`"max_height":{"type":"integer","minimum":1,"maximum":4096,"default":256,"description":"Largest height of the thumbnail, in pixels."},` +
		`"format":{"type":"string","enum":["png","jpeg"],"default":"png","description":"Encoding of the thumbnail: thumbnail.png or thumbnail.jpg."},` +
		`"quality":{"type":"integer","minimum":1,"maximum":100,"default":85,"description":"JPEG quality; ignored for PNG."}}}`
}

// Run implements Processor.
func (t Thumbnail) Run(ctx context.Context, in Input) (Output, error) {
	p := thumbnailParams{MaxWidth: 256, MaxHeight: 256, Format: "png", Quality: 85}
	if err := decodeParams(in.Params, &p); err != nil {
		return Output{}, err
	}
	switch {
	case p.MaxWidth < 1 || p.MaxWidth > maxThumbSide, p.MaxHeight < 1 || p.MaxHeight > maxThumbSide:
		return Output{}, paramsf("max_width and max_height must be from 1 to %d.", maxThumbSide)
	case p.Format != "png" && p.Format != "jpeg":
		return Output{}, paramsf("format must be png or jpeg.")
	case p.Quality < 1 || p.Quality > 100:
		return Output{}, paramsf("quality must be from 1 to 100.")
	}
	if in.Open == nil {
		return Output{}, errors.New("thumbnail: no file")
	}
	progress := in.Progress
	if progress == nil {
		progress = func(int) {}
	}
	rc, err := in.Open(ctx)
	if err != nil {
		return Output{}, err
	}
	defer rc.Close()
	var size int64
	if in.File != nil {
		size = in.File.Size
	}
	fr := newFileReader(ctx, rc, size, nil, 10, 60)

	// The header alone: dimensions and format, kept to be read again by
	// the decoder.
	var head bytes.Buffer
	cfg, srcFormat, err := image.DecodeConfig(io.TeeReader(io.LimitReader(fr, maxImageHeader), &head))
	if fr.Err() != nil {
		return Output{}, fmt.Errorf("thumbnail: read: %w", fr.Err())
	}
	if err != nil || (srcFormat != "png" && srcFormat != "jpeg" && srcFormat != "gif") {
		if head.Len() >= maxImageHeader {
			return Output{}, invalidf("The image's header is larger than %d MiB; thumbnail does not read it.", maxImageHeader>>20)
		}
		return Output{}, invalidf("The file is not a PNG, JPEG or GIF image.")
	}
	var jh imaging.JPEGHeader
	if srcFormat == "jpeg" {
		jh = imaging.ParseJPEGHeader(head.Bytes())
	}
	if err := t.checkSize(cfg, jh); err != nil {
		return Output{}, err
	}
	progress(10)
	fr.progress = in.Progress

	src, _, err := image.Decode(io.MultiReader(bytes.NewReader(head.Bytes()), fr))
	if fr.Err() != nil {
		return Output{}, fmt.Errorf("thumbnail: read: %w", fr.Err())
	}
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return Output{}, invalidf("The %s image is truncated.", formatLabel(srcFormat))
		}
		return Output{}, invalidf("The %s image could not be decoded (%v).", formatLabel(srcFormat), err)
	}
	progress(60)

	orient := max(1, jh.Orientation)
	b := src.Bounds()
	shownW, shownH := b.Dx(), b.Dy()
	if orient >= 5 { // rotated a quarter turn: the shown image is transposed
		shownW, shownH = shownH, shownW
	}
	w, h := imaging.FitBox(shownW, shownH, p.MaxWidth, p.MaxHeight)
	sw, sh := w, h
	if orient >= 5 {
		sw, sh = h, w
	}
	dst, err := imaging.Resample(ctx, src, sw, sh)
	if err != nil {
		return Output{}, err
	}
	if p.Format == "jpeg" { // no alpha in JPEG: flatten onto white, not black
		imaging.FlattenOnWhite(dst)
	}
	out := imaging.Orient(dst, orient)
	progress(90)

	name, ctype := "thumbnail.png", "image/png"
	if p.Format == "jpeg" {
		name, ctype = "thumbnail.jpg", "image/jpeg"
	}
	err = putStreams(ctx, in.Put, []output{{name, ctype}}, func(ws []io.Writer) error {
		if p.Format == "jpeg" {
			return jpeg.Encode(ws[0], out, &jpeg.Options{Quality: p.Quality})
		}
		return png.Encode(ws[0], out)
	})
	if err != nil {
		return Output{}, err
	}
	progress(100)
	res, err := json.Marshal(ThumbnailResult{Width: w, Height: h, Format: p.Format,
		SourceWidth: cfg.Width, SourceHeight: cfg.Height, SourceFormat: srcFormat})
	return Output{Result: res}, err
}

// checkSize refuses images without pixels and images over the bounds.
func (t Thumbnail) checkSize(cfg image.Config, jh imaging.JPEGHeader) error {
	maxPx, maxBytes := t.MaxPixels, t.MaxDecodeBytes
	if maxPx <= 0 {
		maxPx = defaultMaxPixels
	}
	if maxBytes <= 0 {
		maxBytes = defaultMaxDecodeBytes
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return invalidf("The image has no pixels (%d×%d).", cfg.Width, cfg.Height)
	}
	px := int64(cfg.Width) * int64(cfg.Height)
	if px > maxPx {
		return invalidf("The image is %d×%d pixels (%s megapixels); thumbnail accepts images up to %s megapixels.",
			cfg.Width, cfg.Height, megapixels(px), megapixels(maxPx))
	}
	need := px * bytesPerPixel(cfg.ColorModel)
	kind := ""
	if bytesPerPixel(cfg.ColorModel) == 8 {
		kind = " at 16 bits per channel"
	}
	if jh.Progressive { // every DCT coefficient is kept: 4 bytes a sample
		need += int64(float64(px) * 4 * jh.Samples)
		kind = " in progressive JPEG"
	}
	if need > maxBytes {
		return invalidf("The image is %d×%d pixels (%s megapixels)%s; decoding it would take about %d MiB, more than thumbnail's %d MiB.",
			cfg.Width, cfg.Height, megapixels(px), kind, need>>20, maxBytes>>20)
	}
	return nil
}

func megapixels(px int64) string {
	return fmt.Sprintf("%.1f", math.Floor(float64(px)/1e5)/10)
}

// bytesPerPixel is what one pixel takes once decoded, for the models the
// PNG, JPEG and GIF decoders produce.
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.RGBA64Model, color.NRGBA64Model:
		return 8
	case color.Gray16Model:
		return 2
	case color.GrayModel, color.AlphaModel:
		return 1
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 4 // RGBA, NRGBA, CMYK; YCbCr takes at most 3
}

func formatLabel(f string) string {
	switch f {
	case "png":
		return "PNG"
	case "jpeg":
		return "JPEG"
	}
	return "GIF"
}
