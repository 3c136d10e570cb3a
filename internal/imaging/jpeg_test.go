package imaging_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"testing"

	"github.com/conveyorhq/conveyor/internal/imaging"
	"github.com/conveyorhq/conveyor/internal/imaging/imagingtest"
)

func TestParseJPEGHeader(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want imaging.JPEGHeader
	}{
		{imagingtest.JPEGSOF(0xC0, 10, 10, 0x11), imaging.JPEGHeader{Samples: 3}},
		{imagingtest.JPEGSOF(0xC2, 10, 10, 0x22), imaging.JPEGHeader{Progressive: true, Samples: 1.5}},
		{imagingtest.JPEGSOF(0xC2, 10, 10, 0x21), imaging.JPEGHeader{Progressive: true, Samples: 2}},
		{imagingtest.WithEXIFOrientation(imagingtest.JPEGSOF(0xC0, 10, 10, 0x11), 8, binary.BigEndian), imaging.JPEGHeader{Orientation: 8, Samples: 3}},
		{[]byte("not a jpeg"), imaging.JPEGHeader{}},
	} {
		if got := imaging.ParseJPEGHeader(tc.b); got != tc.want {
			t.Errorf("ParseJPEGHeader(%x) = %+v, want %+v", tc.b, got, tc.want)
		}
	}
}

func FuzzParseJPEGHeader(f *testing.F) {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 8, 8)), nil)
	f.Add(imagingtest.WithEXIFOrientation(b.Bytes(), 6, binary.BigEndian))
	f.Add(imagingtest.WithEXIFOrientation(b.Bytes(), 3, binary.LittleEndian))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x10Exif\x00\x00MM\x00\x2a\xff\xff\xff\xf0"))
	f.Add([]byte("\xff\xd8\xff\xe1\x00\x02"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h := imaging.ParseJPEGHeader(b)
		if h.Orientation < 0 || h.Orientation > 8 || h.Samples < 0 || h.Samples > 4*256 {
			t.Fatalf("header %+v", h)
		}
	})
}
