#!/usr/bin/env bash
# The scenario library by name: `tempfail list` shows every scenario under scenarios/ and each loads;
# `tempfail run NAME` is the run of the file; `tempfail show NAME` prints what the run's scenario.yaml
# holds; sweep takes names too; an ambiguous or unknown name is exit 2 with the candidates; and
# TEMPFAIL_LIBRARY points the commands at another library.
# Usage: TEMPFAIL=path/to/tempfail library.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
. "$src/tests/integration/checks.bash"

"$tf" list >list.out 2>list.err; st=$?
check "list exits 0" status_is $st 0
# a line per file, but an incident's before.yaml and after.yaml are one line
files=$(cd "$src/scenarios" && find . -name '*.yaml' | wc -l)
incidents=$(cd "$src/scenarios" && find . -path '*/incidents/*/before.yaml' | wc -l)
want=$((files - incidents))
check "list shows every scenario file, an incident as one line ($want)" test "$(wc -l <list.out)" -eq "$want"
check "list shows an incident with its title" grep -q '^incidents/strict-cap-idle  *(incident: before, after) The strict cap that counts idle sessions$' list.out
check "every library scenario loads" lacks list.out "does not load"
check "presets are listed as presets, with their first comment" contains list.out "^presets/receivers/orange  *(preset for use:) Orange / Wanadoo"
check "names are paths without .yaml" contains list.out "^examples/greylist  *postgrey-style greylisting"
check "a long description is cut at a word" contains list.out "^presets/default .* \.\.\.$"

"$tf" run examples/dedicated-transport -q --no-plots -o byname >/dev/null 2>&1; a=$?
"$tf" run "$src/scenarios/examples/dedicated-transport.yaml" -q --no-plots -o byfile >/dev/null 2>&1; b=$?
check "run NAME exits as run FILE" status_is $a $b
check "run NAME is the run of the file" cmp byname/summary.json byfile/summary.json
"$tf" run dedicated-transport -q --no-plots -o bytail >/dev/null 2>&1
check "an unambiguous tail names it too" cmp bytail/summary.json byfile/summary.json
"$tf" show dedicated-transport >show.yaml 2>show.err; st=$?
check "show exits 0" status_is $st 0
check "show prints what the run wrote as scenario.yaml" cmp show.yaml byfile/scenario.yaml
"$tf" show dedicated-transport --set seed=9 >show9.yaml 2>&1
check "show applies --set" contains show9.yaml "^seed: 9"
"$tf" show >default.yaml 2>&1
check "show without a name: the built-in default" contains default.yaml "^name: default-retry-storm"

# A scenario made of presets: it runs and passes, and show prints the presets resolved.
"$tf" run examples/providers -q --no-plots -o providers >providers.out 2>&1; st=$?
check "examples/providers (receivers from presets) passes its expect:" status_is $st 0
"$tf" show examples/providers >providers.yaml 2>&1
check "show resolves use:" lacks providers.yaml "use:"
check "... into the preset's values" has_text providers.yaml "OFR005_104"
check "... under the scenario's own" contains providers.yaml "customer.test"
check "the run's scenario.yaml holds them resolved" cmp providers.yaml providers/scenario.yaml

"$tf" run greylist -o never >amb.out 2>&1; st=$?
check "an ambiguous name: exit 2" status_is $st 2
check "... naming the candidates" has_text amb.out "'greylist' names 2 scenarios of the library: examples/greylist replay/greylist"
check "... and nothing written" test ! -e never
"$tf" show no-such-scenario >unk.out 2>&1; st=$?
check "an unknown name: exit 2" status_is $st 2
check "... saying where it looked" has_text unk.out "no scenario of that name in the library ($src/scenarios"
"$tf" sweep examples/dedicated-transport --vary seed=1,2 -R 1 -q --no-plots --summaries-only -o sw >/dev/null 2>&1
check "sweep takes a name" test -s sw/sweep.csv

mkdir -p lib/mine
cp "$src/scenarios/examples/greylist.yaml" lib/mine/grey.yaml
TEMPFAIL_LIBRARY=$work/lib "$tf" list >mine.out 2>&1
check "TEMPFAIL_LIBRARY: its scenarios" test "$(cat mine.out | wc -l)" -eq 1
check "... by name" contains mine.out "^mine/grey "
TEMPFAIL_LIBRARY=$work/lib "$tf" run greylist -o x >/dev/null 2>&1; st=$?
check "TEMPFAIL_LIBRARY: the source tree's names are not there" status_is $st 2
TEMPFAIL_LIBRARY=$work/empty "$tf" list >empty.out 2>&1; st=$?
check "an empty library: exit 3" status_is $st 3
check "... saying how to point at one" has_text empty.out "set TEMPFAIL_LIBRARY"

checks_done library
