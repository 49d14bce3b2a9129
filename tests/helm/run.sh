#!/usr/bin/env bash
# Tests of the Helm chart in helm/retention: renders it with Helm's own engine
# (helm-python-sdk), lints it, validates every manifest against Kubernetes 1.31
# (kubernetes-validate) and checks what the pods run and how they are locked down.
#
# Usage: bash tests/helm/run.sh [pytest arguments…]
# Installs its Python tools, quietly, only when they are missing. Exits non-zero
# when a test fails.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-python3}"

missing=()
"$python" -c 'import helm_python' 2>/dev/null || missing+=(helm-python-sdk)
"$python" -c 'import kubernetes_validate' 2>/dev/null || missing+=(kubernetes-validate)
"$python" -c 'import pytest' 2>/dev/null || missing+=(pytest)
"$python" -c 'import yaml' 2>/dev/null || missing+=(pyyaml)
if ((${#missing[@]})); then
    echo "tests/helm: installing ${missing[*]}" >&2
    "$python" -m pip install --quiet --disable-pip-version-check "${missing[@]}"
fi

# No cache directory and no bytecode in the work tree.
export PYTHONDONTWRITEBYTECODE=1
exec "$python" -m pytest -q -p no:cacheprovider --rootdir "$here" "$here" "$@"
