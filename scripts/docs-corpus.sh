#!/usr/bin/env bash
# scripts/docs-corpus.sh: ~150 MB of real English text, offline, from Debian's documentation and dictionary
# packages -> data/corpora/docs.jsonl ({"text": ..., "src": PACKAGE} per line; data/ is ignored by git).
#
# Why: a 10-minute GPU run of a 470M model reads ~60M tokens; the bundled corpora (sotu, moby-dick, brown:
# ~4M tokens) would be repeated ~15 times and the validation loss would rise. The machines reach only
# Debian's and npm's registries, and Debian ships a lot of English prose as documentation.
#
#  1. `apt-get download` each pinned package (below) into data/cache/debs (kept; nothing is installed).
#     When the archive has moved on to another version (security updates replace old ones), the current
#     candidate is downloaded instead and the difference is printed: the script still works.
#  2. `dpkg -x` each .deb into a scratch folder under data/cache (removed at the end unless KEEP_SRC=1).
#  3. scripts/docs-to-jsonl.py (python3, standard library only) turns each package's files into plain-text
#     documents: HTML, reStructuredText, pod, man pages (roff), Texinfo info, vim help, AsciiDoc, dictd
#     dictionaries (entries grouped into ~8 KB documents), fortunes, the KJV Bible (one document per
#     chapter, decoded by bible-kjv's own `bible` program, run from the unpacked .deb). Packages in the
#     order below, files in sorted path order: the output depends only on the .deb files. Texts over
#     20 KB are cut at blank lines; documents under 200 bytes and exact repeats are dropped.
#  4. Writes data/corpora/docs.jsonl (under a temporary name, then renamed) and data/corpora/docs.log:
#     the packages, pinned and used versions, .deb file names and SHA-256, documents and bytes each.
#
# Usage: scripts/docs-corpus.sh            (needs apt lists: run `apt-get update` once, as root, first)
#   KEEP_SRC=1   keep the unpacked packages in data/cache/docs-src
#   OUT=data/corpora/docs.jsonl
# Runs under nice; ~2 minutes on 2 cores (the converters are single-threaded), ~250 MB of .deb files
# downloaded once, ~1.4 GB of scratch disk while it runs.
#
# Result with the versions pinned below (Debian 12 "bookworm"):
#   28 packages (+ bible-kjv for its program), 21,380 documents, 146.3 MB of text, 44.2M tokens of the
#   Mistral tokenizer (EOS included); per package: data/corpora/docs.log.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf 'docs-corpus: %s\n' "$*" >&2; }
die() { printf 'docs-corpus: error: %s\n' "$*" >&2; exit 1; }

# The packages, in output order: "name version". Text, then the bible program (bible-kjv) that reads
# bible-kjv-text's compressed data. Sizes are the text each gives (bytes, with the versions below).
PINS=(
  "linux-doc-6.1           6.1.192-3"                # 20.8 MB  kernel Documentation/ (rst, txt); no translations, devicetree
  "perl-doc                5.36.0-7+deb12u4"         # 12.3 MB  perl*.pod and core-module man pages
  "python3.11-doc          3.11.2-6+deb12u9"         #  9.4 MB  the Sphinx sources (rst) of the Python docs
  "postgresql-doc-15       15.20-0+deb12u1"          #  6.6 MB  HTML manual
  "python-django-doc       3:3.2.25-0+deb12u7"       #  4.5 MB  HTML
  "sqlite3-doc             3.40.1-2+deb12u2"         #  6.6 MB  HTML
  "git-doc                 1:2.39.5-0+deb12u3"       #  2.7 MB  AsciiDoc sources
  "vim-runtime             2:9.0.1378-2+deb12u2"     #  9.7 MB  vim help (doc/*.txt)
  "rust-doc                1.63.0+dfsg1-2"           #  2.9 MB  the books (book, reference, nomicon, ...), not the API
  "gimp-help-en            2.10.34-2"                #  1.8 MB  HTML user manual
  "wireshark-doc           4.0.17-0+deb12u3"         #  1.0 MB  user's and developer's guides (HTML)
  "debian-handbook         11.20220922"              #  0.8 MB  en-US HTML
  "debian-reference-en     2.100"                    #  0.9 MB  text
  "debian-policy           4.6.2.0"                  #  0.8 MB  text
  "developers-reference    12.18"                    #  0.3 MB  rst
  "debian-history          2.28"                     #  0.1 MB  text
  "manpages                6.03-2"                   #  2.1 MB  man pages, sections 1-8
  "manpages-dev            6.03-2"                   #  3.9 MB  man pages, sections 2-3
  "zsh-doc                 5.9-4"                    #  1.4 MB  info
  "bash-doc                5.2.15-2"                 #  0.5 MB  info
  "gnu-standards           2022.03.23-0.1"           #  0.4 MB  info: GNU coding standards, maintainers' guide
  "dict-gcide              0.48.5+nmu2"              # 29.2 MB  GNU Collaborative International Dictionary of English
  "dict-wn                 1:3.0-37"                 # 13.9 MB  WordNet 3.0 glosses (each synset's gloss once)
  "dict-foldoc             20230119-1"               #  5.1 MB  Free On-line Dictionary of Computing
  "dict-devil              1.0-13.1"                 #  0.4 MB  Bierce, The Devil's Dictionary
  "jargon-text             4.4.7-4.1"                #  1.6 MB  the Jargon File
  "fortunes                1:1.99.1-7.3"             #  2.4 MB  fortune cookies (not the offensive ones, no ASCII art)
  "bible-kjv-text          4.38"                     #  4.2 MB  King James Bible, one document per chapter
)
HELPERS=(
  "bible-kjv               4.38"                     # the `bible` program that decodes bible-kjv-text
)

CACHE=data/cache/debs
OUT=${OUT:-data/corpora/docs.jsonl}
LOG=${OUT%.jsonl}.log
KEEP_SRC=${KEEP_SRC:-0}

command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || die "needs apt-get and dpkg (Debian)"
command -v python3 >/dev/null || die "needs python3"
mkdir -p "$CACHE" "$(dirname "$OUT")"
WORK=$(mktemp -d "$PWD/data/cache/.docs-work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SRC=$WORK/src
[[ $KEEP_SRC == 1 ]] && { SRC=data/cache/docs-src; rm -rf "$SRC"; }
mkdir -p "$SRC"

apt_opts=(-q)
[[ $(id -u) -eq 0 ]] && apt_opts+=(-o APT::Sandbox::User=root) # else apt warns that _apt cannot write here

deb_file() { # NAME VERSION -> the cached .deb of exactly that version, if any
  local f
  for f in "$CACHE/$1"_*.deb; do
    [[ -f $f ]] || continue
    [[ $(dpkg-deb -f "$f" Package) == "$1" && $(dpkg-deb -f "$f" Version) == "$2" ]] && { echo "$f"; return 0; }
  done
  return 1
}

fetch() { # NAME VERSION -> path of the .deb used (pinned version if it can be had, else the candidate)
  local name=$1 ver=$2 f dl
  if f=$(deb_file "$name" "$ver"); then echo "$f"; return; fi
  dl=$WORK/dl/$name
  mkdir -p "$dl"
  if ! (cd "$dl" && apt-get download "${apt_opts[@]}" "$name=$ver" >"$WORK/apt.log" 2>&1); then
    say "$name $ver is not in the archive any more; taking the current candidate"
    if ! (cd "$dl" && apt-get download "${apt_opts[@]}" "$name" >"$WORK/apt.log" 2>&1); then
      cat "$WORK/apt.log" >&2
      die "apt-get download $name failed (run 'apt-get update' first?)"
    fi
  fi
  f=$(ls "$dl"/*.deb 2>/dev/null | head -n1) || true
  [[ -n $f ]] || die "apt-get download $name wrote no .deb"
  mv -f "$f" "$CACHE/"
  echo "$CACHE/$(basename "$f")"
}

: >"$WORK/manifest"
names=()
for pin in "${PINS[@]}" "${HELPERS[@]}"; do
  read -r name ver _ <<<"$pin"
  deb=$(fetch "$name" "$ver")
  got=$(dpkg-deb -f "$deb" Version)
  note=""
  if [[ $got != "$ver" ]]; then
    note="  (pinned $ver)"
    say "NOTE: $name: using version $got, not the pinned $ver"
  fi
  sha=$(sha256sum "$deb" | cut -d' ' -f1)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$ver" "$got" "$(basename "$deb")" "$sha" >>"$WORK/manifest"
  say "$(printf '%-22s %-26s %s%s' "$name" "$got" "$(basename "$deb")" "$note")"
  rm -rf "${SRC:?}/$name"
  mkdir -p "$SRC/$name"
  dpkg -x "$deb" "$SRC/$name" || die "dpkg -x $deb failed"
  [[ " ${HELPERS[*]} " == *" $name "* ]] || names+=("$name")
done

say "converting ${#names[@]} packages to $OUT"
tmp=$OUT.tmp.$$
trap 'rm -rf "$WORK" "$tmp"' EXIT
nice -n 10 python3 scripts/docs-to-jsonl.py --src "$SRC" --out "$tmp" --stats "$WORK/stats" \
  --bible-bin "$SRC/bible-kjv/usr/bin/bible" "${names[@]}" || die "conversion failed"
iconv -f UTF-8 -t UTF-8 "$tmp" >/dev/null || die "$tmp is not valid UTF-8"
mv -f "$tmp" "$OUT"

{
  printf '# %s: made by scripts/docs-corpus.sh on %s\n' "$OUT" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  printf '# sha256 %s\n' "$(sha256sum "$OUT" | cut -d' ' -f1)"
  printf 'package\tpinned\tused\tdeb\tsha256\tdocuments\tbytes\n'
  while IFS=$'\t' read -r name ver got deb sha; do
    st=$(awk -F'\t' -v p="$name" '$1 == p { print $2 "\t" $3 }' "$WORK/stats")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$ver" "$got" "$deb" "$sha" "${st:--	-}"
  done <"$WORK/manifest"
  awk -F'\t' '$1 == "total" { print "total\t\t\t\t\t" $2 "\t" $3 }' "$WORK/stats"
} >"$LOG"
read -r docs bytes < <(awk -F'\t' '$1 == "total" { print $2, $3 }' "$WORK/stats")
say "wrote $OUT: $docs documents, $bytes bytes of text ($(du -h "$OUT" | cut -f1) as JSONL); versions in $LOG"
