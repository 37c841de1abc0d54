#!/bin/sh
# The written style, checked (see README "Code style"):
#   - lines of at most 100 columns (tabs at 8; tests 120), no trailing
#     blanks, no CR;
#   - tabs for indentation (continuation lines add 4 spaces);
#   - no assignment inside an if condition;
#   - every public function in a header carries a module prefix
#     (core_, conf_, px_);
#   - cppcheck finds no error, warning or portability problem (if installed).
cd "${top_srcdir:-$(dirname "$0")/..}" || exit 99
files=$(ls core/*.[ch] conf/*.[ch] proxy/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c)
bad=0
n=0
report() { echo "style: $*"; bad=$((bad + 1)); }

for f in $files; do
	n=$((n + 1))
	case $f in tests/*) max=120 ;; *) max=100 ;; esac
	awk -v f="$f" -v max="$max" '
	{ l = $0; gsub(/\t/, "        ", l) }
	length(l) > max { print "style: " f ":" FNR ": longer than " max " columns"; bad++ }
	/[ \t]+$/ { print "style: " f ":" FNR ": trailing blank"; bad++ }
	/\r/ { print "style: " f ":" FNR ": CR"; bad++ }
	/^\t* {8}/ { print "style: " f ":" FNR ": indented with spaces"; bad++ }
	END { exit bad > 0 }' "$f" || bad=$((bad + 1))
done

# no assignment in an if condition, however nested or wrapped (a checker
# that reads whole conditions; it must catch the known-bad sample too)
ifcheck="python3 tests/style_ifassign.py"
# shellcheck disable=SC2086
$ifcheck $files || bad=$((bad + 1))
printf 'int f(void) {\n\tif (a != NULL &&\n\t    (b = g()) == 0)\n\t\treturn 1;\n}\n' >"${TMPDIR:-/tmp}/style-bad.$$.c"
if $ifcheck "${TMPDIR:-/tmp}/style-bad.$$.c" >/dev/null; then
	report "the if-assignment check misses a known assignment"
fi
rm -f "${TMPDIR:-/tmp}/style-bad.$$.c"

# exported names carry their module's prefix
for h in core/core.h conf/conf.h proxy/io/io.h proxy/client/client.h proxy/server/server.h proxy/cmd/cmd.h; do
	grep -E '^[a-z].*[ *]([a-z_0-9]+)\(' "$h" | grep -vE '^(typedef|struct|enum|static)' |
	    sed -E 's/^.*[ *]([a-z_0-9]+)\(.*/\1/' | grep -vE '^(core_|conf_|px_)' |
	    while read -r name; do echo "style: $h: $name lacks its module prefix"; done |
	    grep . && bad=$((bad + 1))
done

if command -v cppcheck >/dev/null 2>&1; then
	out=$(cppcheck -q --std=c11 --enable=warning,portability,performance \
	    --inline-suppr --error-exitcode=1 -I. -D_GNU_SOURCE \
	    --include=/usr/include/x86_64-linux-gnu/sys/queue.h \
	    core conf proxy 2>&1) || { echo "$out"; bad=$((bad + 1)); }
fi

if [ "$bad" -eq 0 ]; then
	echo "$n passed, 0 failed"
	exit 0
fi
echo "$((n - 1)) passed, $bad failed"
exit 1
