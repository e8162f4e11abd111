#!/usr/bin/env bash
# report.html in a real browser: headless Chromium (Debian's `chromium`, scripts/install-deps.sh)
# opens a run's report and a comparison's report from the file system, with networking disabled,
# and checks that every image loads (naturalWidth > 0) and that nothing is cut off (no element
# reaches past the viewport, the page never scrolls sideways) at 1280 and at 800 pixels wide. It
# takes screenshots (left in WORK_DIR for people to look at).
#
# report.html has no JavaScript and needs none; the check runs from a copy of the page with a small
# script appended, which writes its findings into the DOM that --dump-dom prints. A copy with one
# image link broken must fail the check: that shows the check can see a broken image.
# Usage: TEMPFAIL=path/to/tempfail report_browser.sh SOURCE_DIR WORK_DIR
set -u
tf=${TEMPFAIL:?set TEMPFAIL to the tempfail binary} src=$1 work=$2
rm -rf "$work" && mkdir -p "$work" && cd "$work" || exit 1
work=$(pwd)
. "$src/tests/integration/checks.bash"

browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "FAIL: chromium is not installed (scripts/install-deps.sh installs it); the browser test cannot run"
  exit 1
fi
chrome() { # chrome ARGS... URL: headless, no network, a throw-away profile
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$work/profile" "$@" 2>>"$work/chromium.log"
}

scn=$src/tests/data/scenarios/plots.yaml
"$tf" run "$scn" --out run --quiet --set 'expect=["capped.replies.421 == 0", "login.latency.p50 < 10s"]' 2>/dev/null
check "run wrote report.html" test -s run/report.html
"$tf" run "$scn" --out runb --quiet --set 'expect=[]' --set 'receivers.capped.policy[0].limit=6'
"$tf" compare run runb --out cmp --quiet >/dev/null 2>&1
check "compare wrote report.html" test -s cmp/report.html

probe='<script>
window.addEventListener("load", function () {
  var imgs = document.images, broken = [];
  for (var i = 0; i < imgs.length; i++)
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) broken.push(imgs[i].getAttribute("src"));
  var vw = document.documentElement.clientWidth, wide = [];
  var all = document.body.getElementsByTagName("*");
  for (var j = 0; j < all.length; j++) {
    var r = all[j].getBoundingClientRect();
    if (r.right > vw + 0.5 || r.left < -0.5)
      wide.push(all[j].tagName.toLowerCase() + ":" + (all[j].textContent || "").trim().slice(0, 20).replace(/\s+/g, "_"));
  }
  var out = document.createElement("pre");
  out.textContent = "BROWSER" + "CHECK images=" + imgs.length + " broken=" + broken.length +
    " scroll=" + document.documentElement.scrollWidth + " viewport=" + vw + " wide=" + wide.length +
    " [" + broken.concat(wide.slice(0, 5)).join(" ") + "]";
  document.body.appendChild(out);
});
</script>'

# probe PAGE WIDTH: prints the BROWSERCHECK line for PAGE opened at WIDTH pixels
probe() {
  local page=$1 width=$2 copy
  copy="$(dirname "$page")/.browser-check.html"
  sed "s#</body>#${probe//$'\n'/ }</body>#" "$page" >"$copy"
  chrome --window-size="$width",3000 --virtual-time-budget=10000 --dump-dom "file://$work/$copy" |
    grep -o 'BROWSERCHECK[^<]*'
}

# field LINE NAME: the number after NAME= in a BROWSERCHECK line
field() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

for page in run/report.html cmp/report.html; do
  want=$(grep -o '<img ' "$page" | wc -l)
  check "$page has charts" test "$want" -ge 3
  for width in 1280 800; do
    line=$(probe "$page" "$width")
    echo "$page at ${width}px: ${line:-no result}"
    check "$page at ${width}px: the check ran" test -n "$line"
    [ -n "$line" ] || continue
    check "$page at ${width}px: every image counted" test "$(field "$line" images)" -eq "$want"
    check "$page at ${width}px: every image loads" test "$(field "$line" broken)" -eq 0
    check "$page at ${width}px: no sideways scrolling" test "$(field "$line" scroll)" -le "$(field "$line" viewport)"
    check "$page at ${width}px: nothing reaches past the viewport" test "$(field "$line" wide)" -eq 0
  done
done

# The check sees a broken image: the same page with one link pointing nowhere.
sed 's#<img src="queue.png"#<img src="no-such-chart.png"#' run/report.html >run/broken.html
line=$(probe run/broken.html 1280)
echo "run/broken.html: ${line:-no result}"
check "a broken image is detected" test "$(field "$line" broken)" = 1
check "and named" grep -q "no-such-chart.png" <<<"$line"

# The reports themselves are static: no script, nothing fetched from the network.
for page in run/report.html cmp/report.html; do
  check "$page has no script" bash -c "! grep -qi '<script' $page"
  check "$page loads nothing from the network" bash -c "! grep -Eq '(src|href)=\"(https?:)?//' $page"
done

# Screenshots for people to look at.
for page in run cmp; do
  chrome --screenshot="$work/$page-1280.png" --window-size=1280,4000 "file://$work/$page/report.html" >/dev/null
  check "screenshot of $page/report.html" test -s "$work/$page-1280.png"
  check "screenshot of $page is 1280 wide" python3 -c "
import struct, sys
b = open('$work/$page-1280.png', 'rb').read(24)
assert b[:8] == b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', b[16:24]) == (1280, 4000), b[16:24]"
done
echo "screenshots: $work/run-1280.png $work/cmp-1280.png"

checks_done report_browser.sh
