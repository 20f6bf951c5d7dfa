# Sourced by the measurement scripts: builds opmon in release mode and makes
# a scratch directory that is removed on exit (along with anything listed in
# $cleanup).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo build --release --quiet
opmon=${CARGO_TARGET_DIR:-target}/release/opmon
work=$(mktemp -d)
cleanup=""
trap 'eval "$cleanup"; rm -rf "$work"' EXIT
