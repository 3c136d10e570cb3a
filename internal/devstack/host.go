package devstack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// modulePath is the module whose bin/ folder may hold versitygw.
const modulePath = "github.com/conveyorhq/conveyor"

// findBinaries locates every executable the stack needs.
func findBinaries(opts Options) (binaries, error) {
	var b binaries
	pgBin, err := findPGBinDir(opts.PGBinDir)
	if err != nil {
		return b, err
	}
	b.pgBin = pgBin

	var extra []string
	if root, err := ModuleRoot(); err == nil {
		extra = append(extra, filepath.Join(root, "bin"))
	}
	if b.pgbouncer, err = findTool(opts.BinDir, "pgbouncer", "/usr/sbin", "/usr/local/sbin"); err != nil {
		return b, err
	}
	if b.redis, err = findTool(opts.BinDir, "redis-server", "/usr/bin", "/usr/local/bin"); err != nil {
		return b, err
	}
	if b.versitygw, err = findTool(opts.BinDir, "versitygw", extra...); err != nil {
		return b, fmt.Errorf("%w (install it with: go install github.com/versity/versitygw/cmd/versitygw@v1.8.0, into the repository's bin/)", err)
	}
	if opts.Mail {
		if b.mailpit, err = findTool(opts.BinDir, "mailpit", extra...); err != nil {
			return b, fmt.Errorf("%w (run make deps, or go install github.com/axllent/mailpit@%s into the repository's bin/)", err, MailpitVersion)
		}
	}
	return b, nil
}

// findTool looks in binDir, then PATH, then the fallback folders.
func findTool(binDir, name string, fallbacks ...string) (string, error) {
	if binDir != "" {
		p := filepath.Join(binDir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		if abs, err := filepath.Abs(p); err == nil {
			return abs, nil
		}
		return p, nil
	}
	for _, dir := range fallbacks {
		p := filepath.Join(dir, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	where := []string{"Options.BinDir", "PATH"}
	where = append(where, fallbacks...)
	return "", fmt.Errorf("devstack: %s not found (looked in %s)", name, strings.Join(where, ", "))
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

func hasPGServer(dir string) bool {
	return isExecutable(filepath.Join(dir, "postgres")) &&
		isExecutable(filepath.Join(dir, "initdb")) &&
		isExecutable(filepath.Join(dir, "pg_basebackup"))
}

// findPGBinDir resolves the PostgreSQL server binaries folder.
func findPGBinDir(configured string) (string, error) {
	if configured != "" {
		if !hasPGServer(configured) {
			return "", fmt.Errorf("devstack: Options.PGBinDir %s lacks postgres, initdb or pg_basebackup", configured)
		}
		return configured, nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dir := strings.TrimSpace(string(out))
		if hasPGServer(dir) {
			return dir, nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	best, bestVer := "", -1.0
	for _, m := range matches {
		ver, err := strconv.ParseFloat(filepath.Base(filepath.Dir(m)), 64)
		if err != nil || !hasPGServer(m) {
			continue
		}
		if ver > bestVer {
			best, bestVer = m, ver
		}
	}
	if best == "" {
		return "", errors.New("devstack: PostgreSQL server binaries not found (set Options.PGBinDir; tried pg_config --bindir and /usr/lib/postgresql/*/bin)")
	}
	return best, nil
}

// postgresIdentity returns who runs the PostgreSQL binaries and PgBouncer:
// the "postgres" user when we are root (both refuse to run as root), else
// the current user (nil credential).
func postgresIdentity() (*runAs, error) {
	if os.Geteuid() != 0 {
		home := ""
		if u, err := user.Current(); err == nil {
			home = u.HomeDir
		}
		return &runAs{uid: os.Geteuid(), gid: os.Getegid(), home: home}, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("devstack: running as root needs a \"postgres\" user to run PostgreSQL and PgBouncer: %w", err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("devstack: postgres uid %q: %w", u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("devstack: postgres gid %q: %w", u.Gid, err)
	}
	return &runAs{
		uid:  uid,
		gid:  gid,
		home: u.HomeDir,
		cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
	}, nil
}

// ensureTraversable makes sure the run-as user can reach dir: dir itself is
// ours and gets o+x if needed; an ancestor that blocks is reported.
func ensureTraversable(dir string, as *runAs) error {
	if as == nil || as.cred == nil {
		return nil
	}
	canPass := func(st os.FileInfo) bool {
		sys, ok := st.Sys().(*syscall.Stat_t)
		if !ok {
			return true
		}
		perm := st.Mode().Perm()
		switch {
		case int(sys.Uid) == as.uid:
			return perm&0o100 != 0
		case int(sys.Gid) == as.gid:
			return perm&0o010 != 0
		default:
			return perm&0o001 != 0
		}
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("devstack: stat %s: %w", dir, err)
	}
	if !canPass(st) {
		if err := os.Chmod(dir, st.Mode().Perm()|0o055); err != nil {
			return fmt.Errorf("devstack: make %s traversable: %w", dir, err)
		}
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		st, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("devstack: stat %s: %w", p, err)
		}
		if !canPass(st) {
			return fmt.Errorf("devstack: folder %s is not traversable by uid %d (PostgreSQL runs as that user); choose a Dir below a world-traversable path (e.g. the repository's .run/) or chmod o+x it", p, as.uid)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// ModuleRoot walks up from the working directory to the folder whose go.mod
// declares module github.com/conveyorhq/conveyor.
func ModuleRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("devstack: getwd: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && goModModule(data) == modulePath {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("devstack: no go.mod for %s above %s", modulePath, wd)
		}
	}
}

func goModModule(data []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
	}
	return ""
}

// initdbLocale prefers C.UTF-8 (UTF-8 character classes, byte-order
// collation) and falls back to C.
func initdbLocale() string {
	for _, d := range []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return "C.UTF-8"
		}
	}
	if out, err := exec.Command("locale", "-a").Output(); err == nil {
		if slices.ContainsFunc(strings.Fields(string(out)), func(l string) bool {
			return strings.EqualFold(l, "C.utf8") || strings.EqualFold(l, "C.UTF-8")
		}) {
			return "C.UTF-8"
		}
	}
	return "C"
}
