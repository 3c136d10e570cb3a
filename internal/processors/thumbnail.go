package processors

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/gif" // register the decoders image.Decode uses
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"time"
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
	var jh jpegHeader
	if srcFormat == "jpeg" {
		jh = parseJPEGHeader(head.Bytes())
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

	orient := max(1, jh.orientation)
	b := src.Bounds()
	shownW, shownH := b.Dx(), b.Dy()
	if orient >= 5 { // rotated a quarter turn: the shown image is transposed
		shownW, shownH = shownH, shownW
	}
	w, h := fitBox(shownW, shownH, p.MaxWidth, p.MaxHeight)
	sw, sh := w, h
	if orient >= 5 {
		sw, sh = h, w
	}
	dst, err := resample(ctx, src, sw, sh)
	if err != nil {
		return Output{}, err
	}
	if p.Format == "jpeg" { // no alpha in JPEG: flatten onto white, not black
		flattenOnWhite(dst)
	}
	out := orientImage(dst, orient)
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
func (t Thumbnail) checkSize(cfg image.Config, jh jpegHeader) error {
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
	if jh.progressive { // every DCT coefficient is kept: 4 bytes a sample
		need += int64(float64(px) * 4 * jh.samples)
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

// fitBox returns w×h scaled to fit within maxW×maxH, keeping the aspect
// ratio; it never enlarges, and no side is less than one pixel.
func fitBox(w, h, maxW, maxH int) (int, int) {
	if w <= maxW && h <= maxH {
		return w, h
	}
	// Compare w/maxW with h/maxH without rounding: the larger ratio binds.
	if int64(w)*int64(maxH) >= int64(h)*int64(maxW) {
		return maxW, max(1, min(maxH, int(math.Round(float64(h)*float64(maxW)/float64(w)))))
	}
	return max(1, min(maxW, int(math.Round(float64(w)*float64(maxH)/float64(h))))), maxH
}

// resample returns src scaled to w×h (not larger than src), filtered with
// Catmull-Rom widened by the reduction, so that a large reduction averages
// every source pixel rather than sampling some. It works in premultiplied
// RGBA, one axis at a time, and keeps only the few source rows the current
// output row needs: its scratch memory is about four source rows, where
// golang.org/x/image/draw's kernels take output width × source height × 32
// bytes (655 MB for 8000×5000 into 4096 wide).
func resample(ctx context.Context, src image.Image, w, h int) (*image.RGBA, error) {
	b := src.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if w == b.Dx() && h == b.Dy() {
		draw.Draw(dst, dst.Bounds(), src, b.Min, draw.Src)
		return dst, nil
	}
	xs, ys := filterWeights(w, b.Dx()), filterWeights(h, b.Dy())
	ringN := 0
	for _, c := range ys {
		ringN = max(ringN, len(c.w))
	}
	row := image.NewRGBA(image.Rect(0, 0, b.Dx(), 1))
	ring := make([]float32, ringN*w*4) // horizontally scaled source rows
	next := 0                          // the next source row to scale
	for dy, cy := range ys {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		for ; next < cy.lo+len(cy.w); next++ {
			draw.Draw(row, row.Bounds(), src, image.Pt(b.Min.X, b.Min.Y+next), draw.Src)
			out := ring[(next%ringN)*w*4:][:w*4]
			for dx, cx := range xs {
				var r, g, bl, a float32
				pix := row.Pix[cx.lo*4:]
				for k, wt := range cx.w {
					p := pix[k*4 : k*4+4 : k*4+4]
					r += float32(p[0]) * wt
					g += float32(p[1]) * wt
					bl += float32(p[2]) * wt
					a += float32(p[3]) * wt
				}
				o := out[dx*4 : dx*4+4 : dx*4+4]
				o[0], o[1], o[2], o[3] = r, g, bl, a
			}
		}
		pix := dst.Pix[dy*dst.Stride:]
		for dx := range w {
			var r, g, bl, a float32
			for k, wt := range cy.w {
				i := ((cy.lo+k)%ringN*w + dx) * 4
				p := ring[i : i+4 : i+4]
				r += p[0] * wt
				g += p[1] * wt
				bl += p[2] * wt
				a += p[3] * wt
			}
			// The filter's negative lobes can overshoot: keep the
			// colour within the (premultiplied) alpha.
			alpha := clamp8(a, 255)
			o := pix[dx*4 : dx*4+4 : dx*4+4]
			o[0], o[1], o[2], o[3] = clamp8(r, float32(alpha)), clamp8(g, float32(alpha)), clamp8(bl, float32(alpha)), alpha
		}
	}
	return dst, nil
}

func clamp8(v, hi float32) uint8 {
	v += 0.5
	if v <= 0 {
		return 0
	}
	if v >= hi {
		return uint8(hi)
	}
	return uint8(v)
}

// contrib is the filter's weights for one output pixel over the source
// pixels lo, lo+1, ...
type contrib struct {
	lo int
	w  []float32
}

// filterWeights returns, for each of dn output pixels along an axis, the
// normalised Catmull-Rom weights of the sn source pixels they cover.
func filterWeights(dn, sn int) []contrib {
	scale := float64(sn) / float64(dn)
	widen := max(scale, 1)
	radius := 2 * widen
	out := make([]contrib, dn)
	all := make([]float32, 0, dn*(int(2*radius)+2))
	for i := range out {
		center := (float64(i)+0.5)*scale - 0.5
		lo := max(0, int(math.Ceil(center-radius)))
		hi := min(sn-1, int(math.Floor(center+radius)))
		start := len(all)
		var sum float64
		for j := lo; j <= hi; j++ {
			wt := catmullRom(math.Abs(float64(j)-center) / widen)
			all = append(all, float32(wt))
			sum += wt
		}
		ws := all[start:len(all):len(all)]
		if sum <= 0 { // cannot happen with this filter; take the nearest pixel
			lo, ws = min(sn-1, max(0, int(math.Round(center)))), []float32{1}
		} else {
			for k := range ws {
				ws[k] = float32(float64(ws[k]) / sum)
			}
		}
		out[i] = contrib{lo: lo, w: ws}
	}
	return out
}

// catmullRom is the Catmull-Rom cubic at distance x ≥ 0.
func catmullRom(x float64) float64 {
	switch {
	case x < 1:
		return (1.5*x-2.5)*x*x + 1
	case x < 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// flattenOnWhite composites m (premultiplied) over white and makes it
// opaque.
func flattenOnWhite(m *image.RGBA) {
	for i := 0; i+3 < len(m.Pix); i += 4 {
		t := 255 - m.Pix[i+3]
		m.Pix[i] += t
		m.Pix[i+1] += t
		m.Pix[i+2] += t
		m.Pix[i+3] = 255
	}
}

// orientImage returns m as shown under EXIF orientation o (1 to 8): m
// itself for 1, otherwise a flipped or rotated copy.
func orientImage(m *image.RGBA, o int) *image.RGBA {
	if o < 2 || o > 8 {
		return m
	}
	w, h := m.Bounds().Dx(), m.Bounds().Dy()
	dw, dh := w, h
	if o >= 5 {
		dw, dh = h, w
	}
	out := image.NewRGBA(image.Rect(0, 0, dw, dh))
	for y := range dh {
		for x := range dw {
			var sx, sy int
			switch o {
			case 2: // mirrored
				sx, sy = w-1-x, y
			case 3: // upside down
				sx, sy = w-1-x, h-1-y
			case 4: // mirrored upside down
				sx, sy = x, h-1-y
			case 5: // transposed
				sx, sy = y, x
			case 6: // to be turned a quarter clockwise
				sx, sy = y, h-1-x
			case 7: // transversed
				sx, sy = w-1-y, h-1-x
			case 8: // to be turned a quarter anticlockwise
				sx, sy = w-1-y, x
			}
			i, j := m.PixOffset(sx, sy), out.PixOffset(x, y)
			copy(out.Pix[j:j+4], m.Pix[i:i+4])
		}
	}
	return out
}

// jpegHeader is what thumbnail takes from a JPEG's segments before its
// image data.
type jpegHeader struct {
	orientation int     // the EXIF orientation, 1 to 8; 0 when absent
	progressive bool    // SOF2: the decoder keeps every coefficient
	samples     float64 // the components' samples per pixel: 3 for 4:4:4 colour, 1.5 for 4:2:0
}

// parseJPEGHeader reads the segments of a JPEG up to its image data; it
// stops at whatever it does not understand.
func parseJPEGHeader(b []byte) jpegHeader {
	var h jpegHeader
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return h
	}
	for i := 2; i+4 <= len(b); {
		if b[i] != 0xFF {
			return h
		}
		marker := b[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0x01 || marker >= 0xD0 && marker <= 0xD8: // no length
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // image data or end: no more headers
			return h
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		if n < 2 || i+2+n > len(b) {
			return h
		}
		seg := b[i+4 : i+2+n]
		switch {
		case marker == 0xE1 && h.orientation == 0 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00":
			h.orientation = exifOrientation(seg[6:])
		case marker == 0xC0 || marker == 0xC1 || marker == 0xC2: // the frame, as the decoder reads it
			h.progressive = marker == 0xC2
			h.samples = jpegSamples(seg)
		}
		i += 2 + n
	}
	return h
}

// jpegSamples returns the samples per pixel that a start-of-frame
// segment's components add up to; 4 (the most) when it does not parse.
func jpegSamples(sof []byte) float64 {
	if len(sof) < 6 {
		return 4
	}
	nc := int(sof[5])
	if nc == 0 || len(sof) < 6+3*nc {
		return 4
	}
	hmax, vmax := 1, 1
	for c := range nc {
		hv := sof[6+3*c+1]
		hmax, vmax = max(hmax, int(hv>>4)), max(vmax, int(hv&15))
	}
	var s float64
	for c := range nc {
		hv := sof[6+3*c+1]
		s += float64(max(1, int(hv>>4))*max(1, int(hv&15))) / float64(hmax*vmax)
	}
	return s
}

// exifOrientation reads tag 0x0112 from a TIFF structure's first IFD; 0
// when it is absent or malformed.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		bo = binary.LittleEndian
	case "MM":
		bo = binary.BigEndian
	default:
		return 0
	}
	if bo.Uint16(t[2:]) != 42 {
		return 0
	}
	off := int64(bo.Uint32(t[4:]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	n := int64(bo.Uint16(t[off:]))
	for k := range n {
		e := off + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) != 0x0112 {
			continue
		}
		if bo.Uint16(t[e+2:]) != 3 { // SHORT
			return 0
		}
		if v := int(bo.Uint16(t[e+8:])); v >= 1 && v <= 8 {
			return v
		}
		return 0
	}
	return 0
}
