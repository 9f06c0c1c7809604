#!/usr/bin/env bash
# The core install (issue 16): build lossgap's wheel, install it without extras into a fresh
# virtual environment, print the size of its site-packages (pip and setuptools left out:
# they come with the venv, not with lossgap) against the 250 MB target, and run
# `lossgap explain` on a CSV there, with pyarrow absent.
#
#   tools/install_check.sh            # uses python3; PYTHON=python3.10 picks another
#
# Not part of `make test` (it downloads the dependencies); `make install-check` runs it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/lossgap-install-XXXXXX")
trap 'rm -rf "$work"' EXIT

"$python" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$work/dist" "$root" \
    2>/dev/null || "$python" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$root"
wheel=$(ls "$work"/dist/lossgap-*.whl)
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$wheel"

site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "wheel: $(basename "$wheel")"
echo "python: $("$work/venv/bin/python" --version)"
echo "installed: $("$work/venv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -v '^pip=\|^setuptools=' | tr '\n' ' ')"
# The size is the sum of the installed files' sizes (pip's bytecode included); du's figure,
# which rounds every file up to a block of the file system, is printed beside it.
skip=(--exclude=pip --exclude='pip-*' --exclude=setuptools --exclude='setuptools-*'
      --exclude=_distutils_hack --exclude=distutils-precedence.pth --exclude=pkg_resources)
bytes=$(du -s --apparent-size -B1 "${skip[@]}" "$site" | cut -f1)
blocks=$(du -s -B1 "${skip[@]}" "$site" | cut -f1)
echo "largest packages (MiB, file sizes):"
du -s --apparent-size -B1 "$site"/* | sort -rn | head -n 8 \
    | awk '{printf "  %8.1f  %s\n", $1 / 2^20, $2}' | sed "s|$site/||"
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB (%.1f MB)", b / 2^20, b / 1e6 }'; }
echo "site-packages without pip and setuptools: $(mib "$bytes"); target < 250 MB (238.4 MiB)"
echo "  (on disk, in $(stat -f -c %S "$site")-byte blocks: $(mib "$blocks"))"

if "$work/venv/bin/python" -c 'import pyarrow' 2>/dev/null; then
    echo "FAIL: pyarrow is installed in the core environment"
    exit 1
fi
printf 'y,p\n0,0.1\n1,0.8\n1,0.35\n0,0.6\n1,0.9\n0,0.2\n' > "$work/preds.csv"
echo "lossgap explain preds.csv:"
"$work/venv/bin/lossgap" explain "$work/preds.csv"
printf 'y,p\n0,0.1\n1,0.8\n' > "$work/preds.parquet"
echo "lossgap explain preds.parquet (needs the arrow extra):"
set +e
"$work/venv/bin/lossgap" explain "$work/preds.parquet"
code=$?
set -e
echo "exit $code"
[ "$code" -eq 2 ] || { echo "FAIL: expected exit 2"; exit 1; }
awk -v b="$bytes" 'BEGIN { exit !(b < 250e6) }' || { echo "FAIL: $(mib "$bytes") >= 250 MB"; exit 1; }
echo "OK"
