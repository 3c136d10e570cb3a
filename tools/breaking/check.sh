#!/usr/bin/env bash
# The breaking-change gate for the API description.
#
#   tools/breaking/check.sh [ROOT]      gate the specs under ROOT (default: the repo)
#   tools/breaking/check.sh --self-test prove the gate on scratch copies (in a temp dir)
#
# Policy: a released version never breaks. For every ROOT/openapi/vN/released.yaml
# (the spec as released), ROOT/openapi/vN/openapi.yaml must be backward
# compatible with it; a breaking change goes into a new openapi/vN+1/ folder
# instead, which has no released.yaml until it is released. At least one
# released spec must exist, so deleting released.yaml cannot switch the gate off.
#
# oasdiff (bin/oasdiff, installed by `make deps-go`) does the comparison, with
# the settings in oasdiff.yaml: fail on ERR and WARN, allOf flattened for exact
# answers, no external $refs. severity-levels.txt (oasdiff's format allows no
# comments there) raises five checks to ERR, because for this API:
#   api-removed-with-deprecation, api-path-removed-with-deprecation,
#   request-parameter-removed-with-deprecation
#       a released version keeps what it released, deprecated or not: removals
#       go into the next version;
#   response-optional-property-removed
#       the generated Go and TypeScript clients expose optional fields too, so
#       code that reads one stops compiling (or silently gets nothing);
#   optional-response-header-removed
#       clients read documented headers (Location, RateLimit-*, Retry-After).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
OASDIFF=${OASDIFF:-$repo/bin/oasdiff}
CONFIG=$here/oasdiff.yaml

if [ ! -x "$OASDIFF" ]; then
	echo "breaking: $OASDIFF is missing; run 'make deps-go'" >&2
	exit 2
fi

# breaking BASE REVISION: oasdiff's verdict (0 compatible, 1 breaking; anything
# else, such as a spec that does not load, is an error and fails too).
breaking() {
	"$OASDIFF" breaking --config "$CONFIG" "$1" "$2"
}

# next_version DIR: N+1 for a folder named vN ("N+1" otherwise).
next_version() {
	local n=${1##*/v}
	if [[ $n =~ ^[0-9]+$ ]]; then echo $((n + 1)); else echo "N+1"; fi
}

# gate ROOT: 0 when every released spec under ROOT is kept, 1 otherwise.
gate() {
	local root=$1 released dir rc=0 n=0
	shopt -s nullglob
	for released in "$root"/openapi/v*/released.yaml; do
		n=$((n + 1))
		dir=$(dirname "$released")
		if [ ! -f "$dir/openapi.yaml" ]; then
			echo "breaking: ${dir#"$root"/}/openapi.yaml is gone, but that version was released" >&2
			rc=1
			continue
		fi
		if breaking "$released" "$dir/openapi.yaml"; then
			echo "breaking: ${dir#"$root"/}/openapi.yaml keeps ${dir#"$root"/}/released.yaml"
		else
			echo "breaking: ${dir#"$root"/}/openapi.yaml breaks ${dir#"$root"/}/released.yaml." >&2
			echo "  Make the change backward compatible, or make it in a new version folder (openapi/v$(next_version "$dir")/)." >&2
			rc=1
		fi
	done
	shopt -u nullglob
	if [ "$n" = 0 ]; then
		echo "breaking: no openapi/v*/released.yaml under $root: nothing to gate against" >&2
		return 1
	fi
	return "$rc"
}

self_test() {
	local spec failures=0
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/conveyor-breaking.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	spec=$repo/openapi/v1/openapi.yaml

	# expect NAME pass|fail [CHECK-ID]: run the gate on $tmp/NAME, compare the verdict
	# (and, for a failure, that oasdiff named CHECK-ID, so it fails for the right reason).
	expect() {
		local name=$1 want=$2 id=${3:-} out got
		if out=$(gate "$tmp/$name" 2>&1); then got=pass; else got=fail; fi
		if [ "$got" = "$want" ] && { [ -z "$id" ] || grep -q -- "\[$id\]" <<<"$out"; }; then
			echo "ok   $name: $got${id:+ ($id)}"
		else
			echo "FAIL $name: want $want${id:+ ($id)}, got $got; gate output:"
			sed 's/^/    /' <<<"$out"
			failures=$((failures + 1))
		fi
	}
	# scenario NAME [MUTATION]: a scratch tree whose v1 was released as the
	# current spec and whose openapi.yaml has MUTATION applied.
	scenario() {
		local name=$1 mutation=${2:-}
		mkdir -p "$tmp/$name/openapi/v1"
		cp "$spec" "$tmp/$name/openapi/v1/released.yaml"
		if [ -n "$mutation" ]; then
			node "$here/mutate.mjs" "$mutation" "$spec" "$tmp/$name/openapi/v1/openapi.yaml"
		else
			cp "$spec" "$tmp/$name/openapi/v1/openapi.yaml"
		fi
	}

	scenario a-identical
	expect a-identical pass

	scenario b1-operation-removed remove-operation
	expect b1-operation-removed fail api-removed-without-deprecation

	scenario b2-path-removed remove-path
	expect b2-path-removed fail api-path-removed-without-deprecation

	scenario c-required-request-property-added add-required-request-property
	expect c-required-request-property-added fail new-required-request-property

	scenario d1-required-response-property-removed remove-required-response-property
	expect d1-required-response-property-removed fail response-required-property-removed

	scenario d2-optional-response-property-removed remove-optional-response-property
	expect d2-optional-response-property-removed fail response-optional-property-removed

	scenario e-optional-response-property-added add-optional-response-property
	expect e-optional-response-property-added pass

	# A WARN-level change fails too (oasdiff rates this one WARN; with
	# additionalProperties: false, old requests that send the property get 400).
	scenario j-optional-request-property-removed remove-optional-request-property
	expect j-optional-request-property-removed fail request-property-removed

	# A deprecated operation stays in the version that released it.
	scenario f-deprecated-operation-removed
	node "$here/mutate.mjs" deprecate-operation "$spec" "$tmp/f-deprecated-operation-removed/openapi/v1/released.yaml"
	node "$here/mutate.mjs" remove-operation "$spec" "$tmp/f-deprecated-operation-removed/openapi/v1/openapi.yaml"
	expect f-deprecated-operation-removed fail api-removed-with-deprecation

	# The breaking change goes into a new version: v1 stays as released, v2 is free.
	scenario g-break-in-new-version
	mkdir -p "$tmp/g-break-in-new-version/openapi/v2"
	node "$here/mutate.mjs" remove-operation "$spec" "$tmp/g-break-in-new-version/openapi/v2/openapi.yaml"
	expect g-break-in-new-version pass

	# Deleting a released version, or every released.yaml, does not pass.
	scenario h-released-version-deleted
	rm "$tmp/h-released-version-deleted/openapi/v1/openapi.yaml"
	expect h-released-version-deleted fail
	scenario i-no-released-spec
	rm "$tmp/i-no-released-spec/openapi/v1/released.yaml"
	expect i-no-released-spec fail

	if [ "$failures" != 0 ]; then
		echo "breaking self-test: $failures scenario(s) failed" >&2
		return 1
	fi
	echo "breaking self-test: all scenarios behave"
}

case "${1:-}" in
--self-test) self_test ;;
-h | --help) sed -n '2,6p' "$0" ;;
*) gate "${1:-$repo}" ;;
esac
