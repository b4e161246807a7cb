# Sourced by scripts/serve and scripts/test: create or refresh .venv when the project's
# dependency files changed since the last install (a stamp file holds their hash).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "stagent needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
  exit 1
fi
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements.lock" 2>/dev/null | sha256sum | cut -c1-16)"
# One stamp per extras set; the test set includes the base set, so it stamps both.
stamp="$VENV/.stagent-installed-${EXTRAS:-base}"
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Setting up $VENV (first run takes about a minute)..." >&2
  [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  spec="$ROOT"
  [ -n "$EXTRAS" ] && spec="$ROOT[$EXTRAS]"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    -c "$ROOT/requirements.lock" -e "$spec"
  echo "$want" > "$stamp"
  if [ -n "$EXTRAS" ]; then echo "$want" > "$VENV/.stagent-installed-base"; fi
fi
# Bytecode for our own (editable) package: without it every start compiles ~290 modules (0.4 s),
# e.g. where PYTHONDONTWRITEBYTECODE is set. Up to date, this check takes well under 0.1 s.
"$VENV/bin/python" -m compileall -q "$ROOT/stagent" >/dev/null || true
