#!/usr/bin/env bash
# Prints the path of a working Python 3.10 interpreter (TFX 1.16 supports 3.9-3.10 only).
set -euo pipefail
for cand in python3.10 "$(pyenv root 2>/dev/null)/versions/3.10"*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
  if "$cand" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then
    "$cand" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
if command -v uv >/dev/null 2>&1 && uv python find 3.10 >/dev/null 2>&1; then uv python find 3.10; exit 0; fi
echo "error: Python 3.10 not found (TFX 1.16 needs 3.9-3.10); install it or set PYTHON=/path/to/python3.10" >&2
exit 1
