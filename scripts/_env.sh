# Shared setup for scripts/demo and scripts/test: a virtualenv in .venv with twin installed.
# Sourced, not executed. Re-running is quick: installs only when pyproject.toml changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${TWIN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"

ensure_venv() {  # $1: extras, e.g. "" or "[dev]"
    local extras="$1" stamp="$VENV/.twin-installed$1"
    if [ ! -x "$VENV/bin/python" ]; then
        echo "twin: creating virtualenv $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
        echo "twin: installing twin$extras into $VENV"
        local log="$VENV/pip-install.log"
        if ! { "$VENV/bin/python" -m pip install --upgrade pip \
               && "$VENV/bin/python" -m pip install -e "$ROOT$extras"; } >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            echo "twin: pip install failed; full log in $log" >&2
            exit 1
        fi
        touch "$stamp"
    fi
}

ensure_npm() {  # $1: folder with a package.json (and its lock file)
    local dir="$1"
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        echo "twin: installing npm packages in ${dir#"$ROOT"/}"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
