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

# figure DIR COLUMN [ROW]: the value of COLUMN, found by its header name, in
# data row ROW (default 1) of DIR/summary.csv. Quoted fields (tags and
# faults may hold commas) are read as CSV quotes them.
figure() {
  awk -v name="$2" -v row="${3:-1}" '
    function split_csv(line, out,    n, i, c, field, quoted) {
      n = 0; field = ""; quoted = 0
      for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (quoted && c == "\"") {
          if (substr(line, i + 1, 1) == "\"") { field = field c; i++ } else quoted = 0
        } else if (quoted) field = field c
        else if (c == "\"") quoted = 1
        else if (c == ",") { out[++n] = field; field = "" }
        else field = field c
      }
      out[++n] = field
      return n
    }
    NR == 1 { n = split_csv($0, head); for (i = 1; i <= n; i++) if (head[i] == name) col = i
              if (!col) { print "no column " name > "/dev/stderr"; exit 1 } }
    NR == row + 1 { split_csv($0, cells); print cells[col]; exit }' "$1/summary.csv"
}
