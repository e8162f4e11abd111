#!/usr/bin/env bash
# `tempfail explain` names each incident's mechanism from the run alone. Every incident's before and
# after run at seed 1: the before's findings name that incident (the rules of docs/explain.md map a
# mechanism to the incident that shows it), the after's never do; every rule of docs/explain.md's
# table fires on some before, and every rule that fires is in the table (the two cannot drift). The
# text and --json forms say the same; a run whose receivers refused mail that no rule explains says
# so; a run directory that cannot be read is exit 3, a bad command line exit 2; a run of a scenario
# whose description claims a mechanism has no finding from it (the rules read no description).
# Usage: TEMPFAIL=path/to/tempfail explain.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
export TEMPFAIL_LIBRARY=$src/scenarios

# rules NAME.json: the rule and incident of each finding, "rule incident" a line
findings() {
  python3 -c 'import json,sys
for f in json.load(open(sys.argv[1]))["findings"]: print(f["rule"], f["incident"])' "$1"
}
names() { findings "$1" | cut -d' ' -f2 | grep -qx "$2"; }
not_names() { ! names "$@" || { echo "  $1 names $2:"; findings "$1"; return 1; }; }
says() { # FILE TEXT: TEXT in FILE's text with its lines joined (the output is wrapped)
  tr -s ' \n' '  ' <"$1" | grep -qF -- "$2" || { echo "  '$2' not in $1"; return 1; }
}

explain_run() { # NAME FILE: run at seed 1 and explain it, text and JSON
  local n=$1 f=$2
  "$tf" run "$f" --seed 1 -q --no-plots -o "runs/$n" >"log/$n.run" 2>&1 &&
    "$tf" explain "runs/$n" >"out/$n.txt" 2>"log/$n.err" &&
    "$tf" explain "runs/$n" --json >"out/$n.json" 2>>"log/$n.err" ||
    { echo "  $n:"; tail -3 "log/$n.run" "log/$n.err"; return 1; }
}
mkdir -p runs log out
: >fired
for d in "$src"/scenarios/incidents/*/; do
  n=$(basename "$d")
  check "incidents/$n/before: runs and explains" explain_run "$n-before" "$d/before.yaml" || continue
  check "incidents/$n/before: a finding names $n" names "out/$n-before.json" "$n" ||
    findings "out/$n-before.json"
  check "incidents/$n/before: the text names it and its fix" says "out/$n-before.txt" \
    "Like incidents/$n ("
  check "incidents/$n/before: ... and how to run it" says "out/$n-before.txt" "(tempfail incident $n)"
  findings "out/$n-before.json" | cut -d' ' -f1 >>fired
  check "incidents/$n/after: runs and explains" explain_run "$n-after" "$d/after.yaml" || continue
  check "incidents/$n/after: no finding names $n" not_names "out/$n-after.json" "$n"
done

# docs/explain.md's table and the rules that fire: the same set
sed -n 's/^| `\([a-z-]*\)` |.*/\1/p' "$src/docs/explain.md" | sort -u >documented
sort -u fired >fired.u
check "docs/explain.md documents rules ($(wc -l <documented))" test "$(wc -l <documented)" -ge 11
while read -r r; do
  check "rule $r: fires on some incident's before" grep -qx "$r" fired.u
done <documented
while read -r r; do
  check "rule $r: is in docs/explain.md" grep -qx "$r" documented
done <fired.u

# the JSON form: every field, the same findings as the text
json_fields() {
  python3 -c 'import json,sys
d=json.load(open(sys.argv[1]))
assert d["run"].endswith("runs/strict-cap-idle-before"), d["run"]
assert d["findings"], "no findings"
for f in d["findings"]:
    for k in ("rule","incident","title","fix","text","evidence"):
        assert isinstance(f[k], str) and f[k], (k, f)
    assert f["first"] is None or f["first"] >= 0, f
assert d["note"] is None or isinstance(d["note"], str)
n=sum(1 for l in open(sys.argv[2]) if l[:1].isdigit() and ". [" in l)
assert n == len(d["findings"]), (n, len(d["findings"]))' "$1" "$2"
}
check "explain --json: every field; as many findings as the text" json_fields \
  out/strict-cap-idle-before.json out/strict-cap-idle-before.txt
check "explain: the incident's title" says out/strict-cap-idle-before.txt \
  "(The strict cap that counts idle sessions)"
check "explain: the evidence names its files" says out/strict-cap-idle-before.txt \
  "Evidence: summary.json receivers.corp.refused_by_rule.concurrency_per_ip"

# refusals no rule explains: greylisting's after still greylists, within a scan of the delay
check "greylisting/after: refusals, no finding" \
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert not d["findings"] and "by greylist" in d["note"], d' \
  out/greylisting-after.json
check "... the text says which" says out/greylisting-after.txt "No rule matched these refusals: site1 refused"
check "a run with no refusal: nothing found" has_text out/slow-dns-after.txt "Nothing the rules look for"

# the rules read the run, never the description: a calm run that claims a storm has no finding
sed 's/^description: >/description: >\n  A retry storm: 421 Too many connections, the destination declared dead, users asking for new codes,\n  a newsletter in front of the resets, slow DNS, disk stalls and greylisting./' \
  "$src/scenarios/incidents/slow-dns/after.yaml" >claims.yaml
check "a description that claims everything: runs" explain_run claims claims.yaml
check "... no finding from it" has_text out/claims.txt ": 0 findings"

# a run of an older tempfail: summary.json without a loadable scenario.yaml
cp -r runs/strict-cap-idle-before old && echo 'traffic: [' >old/scenario.yaml
"$tf" explain old >old.out 2>&1; st=$?
check "a scenario.yaml that does not load: exit 0" status_is $st 0
check "... the rules that read it are skipped, with a note" says old.out "the rules that read the configuration were skipped"

# what cannot be read, and the command line
"$tf" explain no-such-dir >e.out 2>&1; st=$?
check "explain a missing directory: exit 3" status_is $st 3
check "... naming it" has_text e.out "no-such-dir"
mkdir -p empty
"$tf" explain empty >e.out 2>&1; st=$?
check "explain a directory that is not a run: exit 3" status_is $st 3
mkdir -p bad && echo '{"not": "a summary"' >bad/summary.json
"$tf" explain bad >e.out 2>&1; st=$?
check "explain a broken summary.json: exit 3" status_is $st 3
"$tf" explain >e.out 2>&1; st=$?
check "explain with no directory: exit 2" status_is $st 2
"$tf" explain runs/claims --frobnicate >e.out 2>&1; st=$?
check "explain --frobnicate: exit 2" status_is $st 2
check "... naming the option" has_text e.out "'--frobnicate'"
"$tf" explain runs/claims runs/claims >e.out 2>&1; st=$?
check "explain two directories: exit 2" status_is $st 2
"$tf" explain --help >e.out 2>&1; st=$?
check "explain --help: exit 0, names docs/explain.md" bash -c '[ "$1" -eq 0 ] && grep -q docs/explain.md "$2"' _ $st e.out
checks_done explain
