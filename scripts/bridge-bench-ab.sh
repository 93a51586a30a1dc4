#!/usr/bin/env bash
# Before/after for the bridge: `bridge bench` of a base revision and of the
# work tree, alternated in one run (base, new, base, new, ...) so that the
# machine's load weighs on both alike, then the ratios new / base per
# round and their median. Figures only: nothing is asserted.
#
#   scripts/bridge-bench-ab.sh BASE [ROUNDS] [-- bench flags]
#
# BASE is a git revision (main, HEAD~1, a commit); ROUNDS defaults to 3.
# Bench flags default to `--rates 190,100000`; add `--clickhouse
# "$CLICKHOUSE_DSN"` to put the ClickHouse audit in the loop. Extra
# binaries to alternate with (say, a variant built by hand) can be named in
# AB_EXTRA="label=path label=path".
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: $0 BASE [ROUNDS] [-- bench flags]}
shift
rounds=3
if [[ $# -gt 0 && $1 != -- ]]; then rounds=$1; shift; fi
[[ ${1:-} == -- ]] && shift
flags=("$@")
[[ ${#flags[@]} -eq 0 ]] && flags=(--rates 190,100000)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git archive "$base" | tar -x -C "$work" -f - && mkdir -p "$work/bin"
(cd "$work" && go build -o bin/bridge ./cmd/bridge)
go build -o "$work/bin/bridge-new" ./cmd/bridge
bins=("base=$work/bin/bridge" "new=$work/bin/bridge-new")
for x in ${AB_EXTRA:-}; do bins+=("$x"); done

echo "# base $(git rev-parse --short "$base"), new $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' + uncommitted'), $rounds rounds, $(nproc) cores, bench ${flags[*]}"
for r in $(seq 1 "$rounds"); do
	for b in "${bins[@]}"; do
		label=${b%%=*}
		echo "# round $r $label, load $(cut -d' ' -f1-3 /proc/loadavg)"
		"${b#*=}" bench "${flags[@]}" | awk -v r="$r" -v l="$label" 'NR > 1 { print "R", r, l, $0 }' | tee -a "$work/all"
	done
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
# Lines: R round label limit phase n p50 p99 max enroll/s
awk '
	function ms(s) { if (s ~ /ms$/) return s + 0; if (s ~ /µs$/) return s / 1000; if (s ~ /s$/) return s * 1000; return s }
	function median(list,   a, n, i, j, t) { n = split(list, a, " "); for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }; return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
	{ key = $4 " " $5; v[$2, $3, key] = ($5 == "latency") ? ms($7) : $10; keys[key] = 1; labels[$3] = 1; if ($2 > nr) nr = $2 }
	END {
		for (key in keys) for (l in labels) if (l != "base") {
			split(key, k, " "); what = (k[2] == "latency") ? "p50 ms" : "enroll/s"
			line = ""; ratios = ""; bs = ""; ns = ""
			for (r = 1; r <= nr; r++) {
				b = v[r, "base", key]; n = v[r, l, key]
				if (b == "" || n == "") continue
				bs = bs " " b; ns = ns " " n
				if (k[2] == "latency") { d = n - b; ratios = ratios " " d; line = line sprintf(" %+.0f", d) }
				else { q = n / b; ratios = ratios " " q; line = line sprintf(" %.2fx", q) }
			}
			printf "%-7s %-8s %-8s %-9s base %s | %s %s | per round:%s | median %s\n", k[1], k[2], what, l, bs, l, ns, line,
				(k[2] == "latency") ? sprintf("%+.0f ms", median(ratios)) : sprintf("%.2fx", median(ratios))
		}
	}' "$work/all" | sort
