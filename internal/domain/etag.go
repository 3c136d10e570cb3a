package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// etagOf is a strong ETag over the parts that make a representation.
func etagOf(parts ...any) string { return `"` + tagPart(parts...)[:22] + `"` }

// tagPart hashes parts into 43 URL-safe characters.
func tagPart(parts ...any) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%v\x00", p)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// ETag is the version of the team's representation. Its first half
// versions the team's settings (its name), its second half the usage: the
// tag changes whenever the representation does (so If-None-Match never
// keeps stale usage), while CheckTeamIfMatch compares only the settings
// half (so usage moving between a read and a rename fails nothing).
func (t Team) ETag() string {
	return `"` + t.settingsTag() + tagPart("team_usage", t.Usage, t.Limits)[:11] + `"`
}

// settingsTag versions what a change sets: the name and the team's own
// quota. The limits in force (which follow the platform defaults) and the
// usage are in the other half.
func (t Team) settingsTag() string {
	q := t.Quota
	return tagPart("team", t.ID, t.Name, t.CreatedAt.UnixMicro(), ptrOr(q.MaxStoredBytes), ptrOr(q.MaxFileBytes), ptrOr(q.MaxRunningJobs))[:11]
}

// ptrOr is *p, or "default" when p is nil.
func ptrOr[T any](p *T) any {
	if p == nil {
		return "default"
	}
	return *p
}

// CheckIfMatch enforces a required If-Match precondition on a change of
// the team's settings: nil is CodePreconditionRequired; "*" or a listed
// ETag whose settings half is the team's current one passes.
func (t Team) CheckIfMatch(ifMatch *string) error {
	if ifMatch == nil {
		return Errorf(CodePreconditionRequired, "Send If-Match with the ETag of the version you read (GET the team first).")
	}
	for _, tag := range strings.Split(*ifMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || (len(tag) == 24 && tag[0] == '"' && tag[23] == '"' && tag[1:12] == t.settingsTag()) {
			return nil
		}
	}
	return Errorf(CodePreconditionFailed, "The team has changed since the version in If-Match; read it again.")
}

// ETag is the file's version.
func (f File) ETag() string {
	return etagOf("file", f.ID, f.Name, f.Size, f.SHA256, f.ContentType, f.CreatedAt.UnixMicro())
}

// ETag is the job's version.
func (j Job) ETag() string {
	return etagOf("job", j.ID, j.Status, j.Progress, j.Attempts, j.UpdatedAt.UnixMicro())
}

// ETag is the membership's version.
func (m Member) ETag() string { return etagOf("member", m.UserID, m.Role, m.Pending, m.Email, m.Name) }

// ETag is the version of the user's representation. Its first half
// versions what a platform admin changes (whether the user is disabled),
// its second half the rest (names from the identity provider, last seen,
// teams): the tag changes whenever the representation does, while
// CheckIfMatch compares only the first half, so a user seen again between
// a read and a disable fails nothing.
func (u UserAccount) ETag() string {
	return `"` + u.settingsTag() + tagPart("user_rest", u.Issuer, u.Subject, u.Email, u.Name, u.CreatedAt.UnixMicro(),
		timeOrZero(u.LastSeenAt), u.Memberships, u.DisabledBy)[:11] + `"`
}

func (u UserAccount) settingsTag() string {
	return tagPart("user", u.ID, timeOrZero(u.DisabledAt))[:11]
}

// CheckIfMatch enforces a required If-Match precondition on a change of
// the user's settings: nil is CodePreconditionRequired; "*" or a listed
// ETag whose first half is the user's current one passes.
func (u UserAccount) CheckIfMatch(ifMatch *string) error {
	if ifMatch == nil {
		return Errorf(CodePreconditionRequired, "Send If-Match with the ETag of the version you read (GET the user first).")
	}
	for _, tag := range strings.Split(*ifMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || (len(tag) == 24 && tag[0] == '"' && tag[23] == '"' && tag[1:12] == u.settingsTag()) {
			return nil
		}
	}
	return Errorf(CodePreconditionFailed, "The user has changed since the version in If-Match; read it again.")
}

// ETag is the key's version: what a manager can change or rely on (name,
// role, revocation). LastUsedAt is telemetry, written in the background
// while the key is in use, and is left out: otherwise an If-Match revoke of
// a busy key would keep failing with 412. The price is that a conditional
// GET may answer 304 while last_used_at has moved on (by a minute or more).
func (k APIKey) ETag() string {
	return etagOf("api_key", k.ID, k.Name, k.Role, timeOrZero(k.RevokedAt))
}

func timeOrZero[T interface{ UnixMicro() int64 }](t *T) int64 {
	if t == nil {
		return 0
	}
	return (*t).UnixMicro()
}

// CheckIfMatch enforces an If-Match precondition (nil: none) against the
// current version: "*" or one of the listed ETags must match, compared
// strongly.
func CheckIfMatch(ifMatch *string, etag string) error {
	if ifMatch == nil {
		return nil
	}
	for _, tag := range strings.Split(*ifMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || tag == etag {
			return nil
		}
	}
	return Errorf(CodePreconditionFailed, "The resource has changed since the version in If-Match; read it again.")
}

// NoneMatch reports whether an If-None-Match value (nil: none) matches
// etag, compared weakly: the client's copy is current.
func NoneMatch(ifNoneMatch *string, etag string) bool {
	if ifNoneMatch == nil {
		return false
	}
	for _, tag := range strings.Split(*ifNoneMatch, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if tag == "*" || tag == etag {
			return true
		}
	}
	return false
}
