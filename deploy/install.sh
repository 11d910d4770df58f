#!/usr/bin/env bash
# Install livetokens from this checkout into a self-contained virtual environment.
#
#   deploy/install.sh PREFIX
#
# Builds wheels of clients/python (the generated stubs, livetokens-client) and of the
# server (livetokens), then installs both with their pinned dependencies into a venv at
# PREFIX; PREFIX/bin/livetokens is the entry point. This script is every install step
# of the container image (deploy/docker/Dockerfile runs it in its build stage) and CI
# runs it as a non-root user in a clean directory (tests/deploy/test_install.py), so
# what the image holds is what CI started and minted from.
#
# Needs: python3 (>= 3.11, with venv) and a package index (PyPI) or PIP_FIND_LINKS.
# No compiler: every dependency ships a manylinux wheel, and --only-binary makes a
# missing wheel fail here instead of silently compiling.
# Environment: PYTHON (default python3); LIVETOKENS_WHEEL_DIR keeps the built wheels
# (default: a temporary directory, removed at the end).
set -euo pipefail

if [[ $# -ne 1 || $1 == -* ]]; then
  echo "usage: $0 PREFIX   (installs livetokens into a new virtual environment at PREFIX)" >&2
  exit 2
fi
prefix=$1
source_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
python=${PYTHON:-python3}

if [[ -e $prefix && -n $(ls -A -- "$prefix" 2>/dev/null) ]]; then
  echo "$0: $prefix exists and is not empty; install into a new directory" >&2
  exit 2
fi

wheels=${LIVETOKENS_WHEEL_DIR:-}
if [[ -z $wheels ]]; then
  wheels=$(mktemp -d)
  trap 'rm -rf -- "$wheels"' EXIT
fi

"$python" -c 'import sys; assert sys.version_info >= (3, 11), "livetokens needs Python 3.11+"'
"$python" -m venv -- "$prefix"
pip=("$prefix/bin/python" -m pip --disable-pip-version-check --no-input)

# The two distributions of this repository, built from source (hatchling, pinned in
# each pyproject.toml's build-system, comes from the index in an isolated build env).
"${pip[@]}" wheel --quiet --no-deps --wheel-dir "$wheels" \
  "$source_dir/clients/python" "$source_dir"

# The server pins its run-time dependencies exactly (pyproject.toml); livetokens-client
# resolves to the wheel just built, never to an index copy.
"${pip[@]}" install --quiet --only-binary=:all: \
  --find-links "$wheels" "$wheels"/livetokens_client-*.whl "$wheels"/livetokens-*.whl
"${pip[@]}" check

"$prefix/bin/livetokens" --help >/dev/null
echo "livetokens installed in $prefix ($("$prefix/bin/python" --version))"
