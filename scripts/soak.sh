#!/usr/bin/env bash
# make soak: SOAK_RUNS runs (default 50) of scenarios/twin-dual.yaml back to
# back, each its own `twinbench run`, in one lab kept up for all of them.
# Counted before, after the first run and after the last: the lab daemons'
# open file descriptors, domains, QEMU processes, the lab's network links,
# console relay sockets, work directories, lab user records and result
# directories.  Passes when nothing grew past the first run (the daemons
# open what they need on first use), every run left its results (a run.json
# holding its repetition) and nothing of a run is left at the end.
# Writes the counts to SOAK_RESULTS/soak.txt (default results/soak-DATE).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${SOAK_RUNS:-50}
out=${SOAK_RESULTS:-results/soak-$(date -u +%Y%m%d-%H%M%S)}
tb=build/twinbench
scenario=scenarios/twin-dual.yaml
state=/run/twinbench

case $runs in
'' | *[!0-9]*) echo "soak: SOAK_RUNS must be a whole number, not '$runs'" >&2; exit 2 ;;
esac
[ "$runs" -ge 1 ] || { echo "soak: SOAK_RUNS must be at least 1" >&2; exit 2; }
mkdir -p "$out"

# Open file descriptors of the lab daemon whose PID file is $1, or -1.
daemon_fds() {
	local pid
	pid=$(cat "$state/lab/$1.pid" 2>/dev/null) || { echo -1; return; }
	find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l
}

# Entries of directory $1 whose names start with $2.
entries() {
	find "$1" -mindepth 1 -maxdepth 1 -name "$2*" 2>/dev/null | wc -l
}

# One line of counts: name=value ...
counts() {
	local domains
	domains=$("$tb" lab status 2>/dev/null | sed -n 's/^ *domains: //p')
	echo "libvirtd_fds=$(daemon_fds libvirtd)" \
		"virtlogd_fds=$(daemon_fds virtlogd)" \
		"domains=${domains:-0}" \
		"qemus=$(pgrep -fc 'guest=tb-' || true)" \
		"lab_links=$(ip -n twinbench -o link show 2>/dev/null | wc -l)" \
		"relay_sockets=$(entries "$state/consoles" tb-)" \
		"work_dirs=$(entries "${TMPDIR:-/var/tmp}" twinbench-)" \
		"lab_users=$(entries "$state/users" '')" \
		"result_dirs=$(entries "$out" 2)"
}

# The value of $2 in a counts line $1.
count_of() {
	local kv
	for kv in $1; do
		[ "${kv%%=*}" != "$2" ] || { echo "${kv#*=}"; return; }
	done
}

was_up=0
"$tb" lab status >/dev/null 2>&1 && was_up=1
"$tb" lab up
# The counts are the machine's: another run's guests and files would count too.
others=$(entries "$state/users" '')
if [ "$others" -gt 0 ]; then
	echo "soak: $others other run(s) use the lab ($state/users): soak alone" >&2
	[ "$was_up" -eq 1 ] || "$tb" lab down
	exit 3
fi
before=$(counts)
echo "soak: $runs runs of $scenario into $out"
echo "soak: before:      $before"

failed=0
first=
for i in $(seq 1 "$runs"); do
	if ! "$tb" run --results "$out" "$scenario" >>"$out/soak.log" 2>&1; then
		failed=$((failed + 1))
		echo "soak: run $i of $runs failed (see $out/soak.log)"
	fi
	[ "$i" -ne 1 ] || first=$(counts)
	echo "soak: after run $i: $(counts)"
done
last=$(counts)
echo "soak: after 1:     $first"
echo "soak: after $runs:    $last"

# Results: one directory per run, each with its repetition recorded.
recorded=0 verified=0
for f in "$out"/2*/run.json; do
	[ -e "$f" ] || continue
	grep -q '"index": 1' "$f" && recorded=$((recorded + 1))
	grep -q '"verified": true' "$f" && verified=$((verified + 1))
done

leaks=
for name in libvirtd_fds virtlogd_fds domains qemus lab_links relay_sockets work_dirs lab_users; do
	# The daemons may open what they need on the first run; nothing after that.
	base=$(count_of "$before" "$name")
	case $name in *_fds) base=$(count_of "$first" "$name") ;; esac
	[ "$(count_of "$last" "$name")" -le "$base" ] || leaks="$leaks $name"
done

if [ "$was_up" -eq 0 ]; then
	"$tb" lab down
fi

{
	echo "runs=$runs failed=$failed recorded=$recorded verified=$verified"
	echo "before: $before"
	echo "after_1: $first"
	echo "after_$runs: $last"
	echo "leaks:${leaks:- none}"
} | tee "$out/soak.txt"

rc=0
[ -z "$leaks" ] || { echo "soak: grew over $runs runs:$leaks" >&2; rc=1; }
if [ "$(count_of "$last" result_dirs)" -ne "$runs" ] || [ "$recorded" -ne "$runs" ]; then
	echo "soak: $runs runs but $recorded results recorded" >&2
	rc=1
fi
[ "$failed" -eq 0 ] || { echo "soak: $failed of $runs runs failed" >&2; rc=1; }
exit "$rc"
