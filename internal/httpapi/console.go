package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ConsoleConfig is what GET /console/config.json tells the console about
// signing in.
type ConsoleConfig struct {
	Authority string `json:"authority"` // the OIDC issuer the API trusts
	ClientID  string `json:"client_id"` // the console's client id; empty: sign-in is not configured
	Scope     string `json:"scope"`     // space-separated scopes the console asks for
	// Storage is the origin of the presigned storage URLs the console's
	// direct uploads and downloads reach (scheme://host); "" for none.
	Storage string `json:"-"`
}

// consoleCSP is the console's Content-Security-Policy: everything from the
// serving origin only, but for connections to the system's own other
// origins (the identity provider, when elsewhere, and storage, for direct
// uploads and downloads). Images may also be blob: and data: URLs (previews
// of outputs, inline icons), fonts data: URLs. Styles need no 'unsafe-inline':
// the build extracts its CSS to files, and Vue and Quasar set styles through
// the CSSOM, which style-src does not govern.
const consoleCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
	"font-src 'self' data:; connect-src 'self'%s; frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"

// hashedName matches the files a bundler names after their content under
// assets/: an 8-character base64url hash before the extension
// (assets/index-B3x_9aZq.js).
var hashedName = regexp.MustCompile(`^assets/(?:.*/)?[^/]+[-.]([A-Za-z0-9_-]{8})\.[A-Za-z0-9]+$`)

// isHashedAsset reports whether name is a content-hashed asset, which
// never changes and is cached for a year. The hash must hold a digit or a
// capital, so that a plain word (assets/abcdefgh.js) is never taken for one:
// a hashed file missed is only revalidated, a plain file taken for hashed
// would be stale for a year.
func isHashedAsset(name string) bool {
	m := hashedName.FindStringSubmatch(name)
	return m != nil && strings.ContainsAny(m[1], "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")
}

// staticExt are extensions only files have: a missing path with one is a
// 404, never the console's index.html (a script tag must not get HTML).
var staticExt = map[string]bool{
	".js": true, ".mjs": true, ".css": true, ".map": true, ".json": true, ".txt": true, ".xml": true,
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".svg": true, ".ico": true, ".webp": true, ".avif": true,
	".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true, ".wasm": true, ".webmanifest": true,
}

// compressible are the media types worth gzipping.
var compressible = map[string]bool{
	".html": true, ".js": true, ".mjs": true, ".css": true, ".map": true, ".json": true, ".svg": true,
	".txt": true, ".xml": true, ".webmanifest": true, ".ttf": true, ".otf": true, ".eot": true, ".ico": true,
}

// consoleFile is one file of the console's build, with what is computed
// once: its ETag, and (lazily) its gzip encoding.
type consoleFile struct {
	name      string // path in the FS: "index.html", "assets/index-B3x_9aZq.js"
	size      int64
	etag      string // strong, from the content
	immutable bool
	br, gz    string // precompressed siblings in the FS ("x.js.br"), if the build wrote them
	gzipOnce  sync.Once
	gzipped   []byte // nil: not worth it
}

// console serves the console's build: its files, and index.html for every
// other page path (history fallback), so deep links survive a reload.
type console struct {
	fsys  fs.FS
	files map[string]*consoleFile
	index *consoleFile
	// authority is the OIDC issuer's origin and host: the console's
	// sign-in requests (discovery, tokens) go there, so connect-src allows
	// it when it is another host than the one serving the console.
	authorityOrigin, authorityHost string
	storageOrigin                  string
	problems                       problems
}

// newConsole indexes fsys, which must hold index.html at its top.
func newConsole(fsys fs.FS, cfg ConsoleConfig, p problems) (*console, error) {
	c := &console{fsys: fsys, files: map[string]*consoleFile{}, problems: p}
	if u, err := url.Parse(cfg.Authority); err == nil && u.Host != "" && (u.Scheme == "https" || u.Scheme == "http") {
		c.authorityOrigin, c.authorityHost = u.Scheme+"://"+u.Host, u.Host
	}
	if cfg.Storage != "" {
		u, err := url.Parse(cfg.Storage)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Path != "" || u.RawQuery != "" {
			return nil, fmt.Errorf("httpapi: console storage origin %q: want scheme://host", cfg.Storage)
		}
		c.storageOrigin = u.Scheme + "://" + u.Host
	}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if hidden(name) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() || strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") {
			return nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		f := &consoleFile{name: name, size: int64(len(b)), etag: `"` + hex.EncodeToString(sum[:12]) + `"`,
			immutable: isHashedAsset(name)}
		if _, err := fs.Stat(fsys, name+".br"); err == nil {
			f.br = name + ".br"
		}
		if _, err := fs.Stat(fsys, name+".gz"); err == nil {
			f.gz = name + ".gz"
		}
		c.files[name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("httpapi: console files: %w", err)
	}
	if c.index = c.files["index.html"]; c.index == nil {
		return nil, errors.New("httpapi: the console's files have no index.html at the top")
	}
	return c, nil
}

// hidden reports whether a path has a segment starting with a dot.
func hidden(name string) bool {
	for _, s := range strings.Split(name, "/") {
		if strings.HasPrefix(s, ".") && s != "." {
			return true
		}
	}
	return false
}

// reservedPath reports whether p belongs to the server rather than to the
// console: those paths never fall back to index.html. /debug (profiles)
// is served only on the internal listeners, and is a 404 here.
func reservedPath(p string) bool {
	for _, prefix := range []string{"/api", "/docs", "/dev/oidc", "/metrics", "/healthz", "/readyz", "/debug"} {
		if p == prefix || strings.HasPrefix(p, prefix+"/") {
			return true
		}
	}
	return p == "/console/config.json"
}

// ServeHTTP answers a file of the build, or index.html for a page path.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if reservedPath(r.URL.Path) {
		c.problems.status(w, r, http.StatusNotFound, "No such path.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		c.problems.status(w, r, http.StatusMethodNotAllowed, "This path does not take "+clip(r.Method, 32)+".")
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	f := c.files[name]
	if name == "" {
		f = c.index
	}
	if f == nil {
		if name == "assets" || strings.HasPrefix(name, "assets/") || staticExt[strings.ToLower(path.Ext(name))] || !acceptsHTML(r.Header.Get("Accept")) {
			c.problems.status(w, r, http.StatusNotFound, "No such file.")
			return
		}
		f = c.index
	}
	h := w.Header()
	h.Set("Content-Security-Policy", c.csp(r))
	if f.immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		// Revalidated every time (with the ETag), so a release is seen at once.
		h.Set("Cache-Control", "no-cache")
	}
	c.serveFile(w, r, f)
}

// csp is the console's policy for a request: the authority's origin joins
// connect-src when the console is not served from the authority's host, and
// storage's always.
func (c *console) csp(r *http.Request) string {
	extra := ""
	if c.authorityOrigin != "" && !strings.EqualFold(c.authorityHost, r.Host) {
		extra = " " + c.authorityOrigin
	}
	if c.storageOrigin != "" && c.storageOrigin != c.authorityOrigin {
		extra += " " + c.storageOrigin
	}
	return fmt.Sprintf(consoleCSP, extra)
}

// serveFile writes f, in the best encoding the client takes, with
// http.ServeContent (ranges, HEAD, If-None-Match). Embedded files have no
// modification time, so no Last-Modified is sent; the ETag is the content's.
func (c *console) serveFile(w http.ResponseWriter, r *http.Request, f *consoleFile) {
	h := w.Header()
	ext := strings.ToLower(path.Ext(f.name))
	ctype := mime.TypeByExtension(ext)
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	h.Set("Content-Type", ctype)
	encodable := f.br != "" || f.gz != "" || (compressible[ext] && f.size >= 1024)
	if encodable {
		h.Add("Vary", "Accept-Encoding")
	}
	if encodable && r.Header.Get("Range") == "" {
		ae := r.Header.Get("Accept-Encoding")
		switch {
		case f.br != "" && acceptsEncoding(ae, "br"):
			if c.serveSibling(w, r, f, f.br, "br") {
				return
			}
		case f.gz != "" && acceptsEncoding(ae, "gzip"):
			if c.serveSibling(w, r, f, f.gz, "gzip") {
				return
			}
		case acceptsEncoding(ae, "gzip"):
			if gz := c.gzipped(f); gz != nil {
				h.Set("Content-Encoding", "gzip")
				h.Set("ETag", encodedETag(f.etag, "gzip"))
				http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(gz))
				return
			}
		}
	}
	file, err := c.fsys.Open(f.name)
	if err != nil {
		c.problems.write(w, r, err)
		return
	}
	defer file.Close()
	h.Set("ETag", f.etag)
	http.ServeContent(w, r, f.name, time.Time{}, readSeeker(file))
}

// serveSibling writes a precompressed copy of f; false when it cannot be
// opened (then f is served as it is).
func (c *console) serveSibling(w http.ResponseWriter, r *http.Request, f *consoleFile, name, encoding string) bool {
	file, err := c.fsys.Open(name)
	if err != nil {
		return false
	}
	defer file.Close()
	w.Header().Set("Content-Encoding", encoding)
	w.Header().Set("ETag", encodedETag(f.etag, encoding))
	http.ServeContent(w, r, f.name, time.Time{}, readSeeker(file))
	return true
}

// gzipped is f compressed once, on first use; nil when compression does
// not pay or fails.
func (c *console) gzipped(f *consoleFile) []byte {
	f.gzipOnce.Do(func() {
		b, err := fs.ReadFile(c.fsys, f.name)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if _, err := zw.Write(b); err != nil || zw.Close() != nil {
			return
		}
		if buf.Len() < len(b)*9/10 {
			f.gzipped = buf.Bytes()
		}
	})
	return f.gzipped
}

func encodedETag(etag, encoding string) string {
	return strings.TrimSuffix(etag, `"`) + "-" + encoding + `"`
}

// readSeeker is file as an io.ReadSeeker (embedded and in-memory files are
// one); any other file is read into memory.
func readSeeker(file fs.File) io.ReadSeeker {
	if rs, ok := file.(io.ReadSeeker); ok {
		return rs
	}
	b, _ := io.ReadAll(file)
	return bytes.NewReader(b)
}

// acceptsHTML reports whether an Accept header takes text/html: it is
// absent, or names text/html, text/* or */* with a non-zero q.
func acceptsHTML(accept string) bool {
	if strings.TrimSpace(accept) == "" {
		return true
	}
	return acceptsToken(accept, func(v string) bool { return v == "text/html" || v == "text/*" || v == "*/*" })
}

// acceptsEncoding reports whether an Accept-Encoding header takes enc.
func acceptsEncoding(ae, enc string) bool {
	return acceptsToken(ae, func(v string) bool { return v == enc })
}

// acceptsToken reports whether a comma-separated list of values with
// optional ;q= parameters has one that match takes, with q above 0.
func acceptsToken(list string, match func(string) bool) bool {
	for i, part := range strings.Split(list, ",") {
		if i == 64 {
			break
		}
		v, params, _ := strings.Cut(part, ";")
		if !match(strings.ToLower(strings.TrimSpace(v))) {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok && strings.EqualFold(k, "q") {
				if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
					q = f
				}
			}
		}
		if q > 0 {
			return true
		}
	}
	return false
}

// consoleConfig answers GET /console/config.json.
func (s *Server) consoleConfig(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.deps.ConsoleConfig)
}
