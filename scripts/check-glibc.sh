#!/usr/bin/env bash
# Fail unless every Lambda zip's bootstrap needs at most the glibc of provided.al2023 (2.34).
#   scripts/check-glibc.sh target/lambda/*/bootstrap.zip
set -euo pipefail
MAX_GLIBC="${MAX_GLIBC:-2.34}"
[[ $# -gt 0 ]] || { echo "usage: $0 ZIP..." >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for zip in "$@"; do
  [[ -f "$zip" ]] || { echo "check-glibc: $zip does not exist (run make package)" >&2; exit 1; }
  unzip -p "$zip" bootstrap > "$work/bootstrap"
  needed="$(objdump -T "$work/bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)"
  newest="$(printf '%s\n%s\n' "${needed:-0}" "$MAX_GLIBC" | sort -V | tail -n 1)"
  size="$(stat -c %s "$zip")"
  if [[ "$newest" != "$MAX_GLIBC" ]]; then
    echo "check-glibc: $zip needs glibc $needed, newer than $MAX_GLIBC (provided.al2023)" >&2
    exit 1
  fi
  echo "check-glibc: $zip ok: needs glibc ${needed:-none} <= $MAX_GLIBC, zip $size bytes"
done
