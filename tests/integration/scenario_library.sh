#!/usr/bin/env bash
# The scenario library holds what it says: every file under scenarios/ loads with no warning, runs,
# and its expect: lines hold. A scenario runs as it is (the built-in default too, with no file); a
# receiver preset runs inside a small scenario that pulls it in with `use:` and gives it a name and a
# domain, an MTA preset as the scenario's `mta:`, and the resolved scenario must show what the
# preset says (its rules, its keys). Every incident (incidents/NAME: before.yaml and after.yaml) runs
# through `tempfail incident`, over the seeds its fixes: block names: the before's expect: (the
# problem), the after's (the problem gone) and the margin must hold in every one. A file that is in
# none of these groups fails, so a new kind of file gets a rule here.
# Usage: TEMPFAIL=path/to/tempfail scenario_library.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"
lib=$src/scenarios
export TEMPFAIL_LIBRARY=$lib

runs_clean() { # NAME: the run's exit status 0 and nothing on stderr (no warning)
  local n=$1; shift
  "$tf" run "$@" -q --no-plots -o "out/$n" >"log/$n.out" 2>"log/$n.err"; local st=$?
  [ "$st" -eq 0 ] && [ ! -s "log/$n.err" ] || { echo "  exit $st:"; head -5 "log/$n.err"; return 1; }
}
shows() { # FILE PATTERN...: each pattern is in `tempfail show FILE`
  local f=$1; shift
  "$tf" show "$f" >show.out 2>show.err || { cat show.err; return 1; }
  local p
  for p in "$@"; do grep -q -- "$p" show.out || { echo "  '$p' not in the resolved scenario"; return 1; }; done
}
wrap() { # KEY SECTION: wrap/KEY.yaml, five minutes of mail to x.test and SECTION (a preset's use:)
  cat >"wrap/$1.yaml" <<EOF
name: use-$1
duration: 5m
until: drained
drain_cap: 1d
traffic:
  classes:
    - { name: mail, arrivals: { process: poisson, rate: 5/s }, domains: { x.test: 1 } }
$2
EOF
}
mkdir -p out log wrap
n_incidents=0 n_files=0
while IFS= read -r f; do
  name=${f%.yaml}
  n_files=$((n_files + 1))
  key=$(echo "$name" | tr / _)
  case $name in
    incidents/*/before) ;;                    # with its after, below
    incidents/*/after) n_incidents=$((n_incidents + 1)) ;;
    presets/default)
      check "$name: the built-in default runs clean, its expect: holds" runs_clean default
      check "$name: the file runs clean too" runs_clean "$key" "$lib/$f"
      check "$name: the file is the built-in default" cmp -s out/default/summary.json out/"$key"/summary.json ;;
    presets/receivers/*)
      p=${name#presets/}
      wrap "$key" "receivers:
  - { use: $p, name: x, domains: [x.test] }"
      check "$name: runs clean, used by a receiver" runs_clean "$key" "wrap/$key.yaml"
      rules=$(grep -v '^ *#' "$lib/$f" | sed -n 's/.*rule: *\([a-z_]*\).*/rule: \1/p' | sort -u)
      mapfile -t want <<<"$rules"
      check "$name: the receiver has the preset's rules (${#want[@]})" shows "wrap/$key.yaml" "${want[@]}"
      check "$name: the receiver took mail" grep -Eq '"messages": [1-9]' "out/$key/summary.json" ;;
    presets/mta/*)
      p=${name#presets/}
      wrap "$key" "mta: { use: $p }"
      check "$name: runs clean as the scenario's mta:" runs_clean "$key" "wrap/$key.yaml"
      # every key the preset sets (at any depth) is in the resolved scenario
      mapfile -t want < <(sed -n 's/^ *\([a-z_][a-z0-9_]*\):.*/\1:/p' "$lib/$f" | sort -u)
      check "$name: the scenario has the preset's keys (${#want[@]})" shows "wrap/$key.yaml" "${want[@]}"
      check "$name: the mail left" grep -Eq '"delivered": [1-9]' "out/$key/summary.json" ;;
    examples/* | replay/*)
      check "$name: runs clean, its expect: holds" runs_clean "$key" "$lib/$f" ;;
    *)
      check "$name: a file of a kind this test knows (add a rule for it)" false ;;
  esac
done < <(cd "$lib" && find . -name '*.yaml' | sed 's|^\./||' | sort)
check "the library has files ($n_files)" test "$n_files" -gt 20

for d in "$lib"/incidents/*/; do
  n=$(basename "$d")
  check "incidents/$n: before.yaml and after.yaml" test -f "$d/before.yaml" -a -f "$d/after.yaml"
  "$tf" incident "$d" -o "inc/$n" >"log/incident-$n.out" 2>&1; st=$?
  check "incidents/$n: the fix holds in every seed (tempfail incident)" status_is $st 0 ||
    cat "log/incident-$n.out"
  check "incidents/$n: its table has a row per seed" test "$(wc -l <"inc/$n/incident.csv")" -ge 6
  for w in before after; do
    check "incidents/$n/$w: loads with no warning" bash -c '"$1" show "$2" >/dev/null 2>show.err && [ ! -s show.err ]' _ \
      "$tf" "$d/$w.yaml"
    check "incidents/$n/$w: tells its story (Story, Symptom, Why, Fix)" \
      bash -c 'f=$1; [ "$(grep -cE "^# (Story|Symptom|Why|Fix)" "$f")" -ge 1 ]' _ "$d/$w.yaml"
  done
  check "incidents/$n/after: states the margin (fixes:)" grep -q '^fixes:' "$d/after.yaml"
done
check "ten incidents or more ($n_incidents)" test "$n_incidents" -ge 10

# The command itself: a broken fix is caught, seed by seed, with exit 1.
mkdir -p broken && cp "$lib/incidents/strict-cap-idle/before.yaml" broken/ &&
  sed 's/lower_by: 10x/lower_by: 100000x/' "$lib/incidents/strict-cap-idle/after.yaml" >broken/after.yaml
"$tf" incident broken -o inc/broken --seeds 2 >broken.out 2>&1; st=$?
check "incident: a margin the fix does not reach: exit 1" status_is $st 1
check "incident: the seed that fails is named" contains broken.out "FAILS"
check "incident: the verdict line" contains broken.out "the fix did not hold in 2 of 2 seeds"
"$tf" incident examples/greylist >noinc.out 2>&1; st=$?
check "incident: a scenario without fixes: is exit 2" status_is $st 2
check "incident: ... saying so" contains noinc.out "has no fixes: block"
"$tf" incident no-such-incident >noinc.out 2>&1; st=$?
check "incident: an unknown name is exit 2" status_is $st 2
"$tf" incident strict-cap-idle --seeds 0 >noinc.out 2>&1; st=$?
check "incident: --seeds 0 is exit 2" status_is $st 2
checks_done scenario_library
