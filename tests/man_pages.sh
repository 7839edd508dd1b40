#!/bin/sh
# The man pages (man/dptrain.1, man/dptrain-plugin.7) render without a
# single groff warning, and dptrain(1) cannot fall behind the command: it
# documents every subcommand that `dptrain --help` lists and, for each,
# every option that the subcommand's --help prints.
. "${top_srcdir:?run me through make check}/tests/lib.sh"

: "${GROFF:?GROFF is set by make check (configure finds groff)}"
man1="$top_srcdir/man/dptrain.1"
man7="$top_srcdir/man/dptrain-plugin.7"

# 1-2. groff with every warning enabled prints nothing on stderr (its exit
#      status is 0 even after warnings, so stderr is what counts), and the
#      page is not empty.
for page in "$man1" "$man7"; do
    "$GROFF" -man -Tutf8 -ww "$page" > page.txt 2> warnings.txt || true
    check "$(basename "$page") renders without warnings" \
        sh -c '! [ -s warnings.txt ] && [ "$(wc -l < page.txt)" -gt 50 ] || { cat warnings.txt; false; }'
done

# The man source with roff's escaped hyphens made plain, so that an option
# reads as on the command line: "\-\-plugin\-path" is "--plugin-path".
sed 's/\\-/-/g' "$man1" > man1.txt

# The subcommands: the first word of each entry of the "commands:" list of
# `dptrain --help` (entries start two spaces in, descriptions further).
dptrain --help > help.txt
sed -n '/^commands:/,/^$/p' help.txt | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' > commands.txt
check "dptrain --help lists the commands (at least 6)" \
    test "$(wc -l < commands.txt)" -ge 6

# The options a help text prints: every -x or --word that starts a word.
options_of() {
    grep -o -E '(^|[ ,[(])--?[a-zA-Z][a-zA-Z-]*' "$1" | sed 's/^[ ,[(]//' | sort -u
}

# The part of dptrain.1 that documents command $1: from its ".SS dptrain
# CMD" line to the next section or subsection.
section_of() {
    awk -v cmd="$1" '
        /^\.S[SH] / { on = ($0 ~ "^\\.SS \"?dptrain " cmd "( |\"|$)") }
        on' man1.txt
}
sed -n '/^\.SH COMMON OPTIONS/,/^\.SH MODEL FILES/p' man1.txt > common.txt

# 3... For each subcommand: a subsection of its own, and each option of its
#      --help either there or among the common options.
while read -r cmd; do
    section_of "$cmd" > "section-$cmd.txt"
    check "dptrain.1 has a subsection 'dptrain $cmd'" test -s "section-$cmd.txt"
    dptrain "$cmd" --help > "help-$cmd.txt"
    missing=""
    for opt in $(options_of "help-$cmd.txt"); do
        if ! grep -q -E -e "(^|[^a-zA-Z-])$opt([^a-zA-Z-]|\$)" "section-$cmd.txt" common.txt; then
            missing="$missing $opt"
        fi
    done
    if [ -z "$missing" ]; then
        ok "dptrain.1 documents every option of 'dptrain $cmd --help'" \
            "($(options_of "help-$cmd.txt" | wc -l) options)"
    else
        fail "dptrain.1 lacks options of 'dptrain $cmd --help':$missing"
    fi
done < commands.txt

# The options of `dptrain --help` itself (common options, --version).
missing=""
for opt in $(options_of help.txt); do
    grep -q -E -e "(^|[^a-zA-Z-])$opt([^a-zA-Z-]|\$)" man1.txt || missing="$missing $opt"
done
check "dptrain.1 documents every option of 'dptrain --help'${missing:+ (missing:$missing)}" \
    test -z "$missing"

# The checks above would pass on an empty list: prove they can fail with an
# option no page documents.
echo "  --no-such-option-anywhere  x" > fake-help.txt
opt=$(options_of fake-help.txt)
check "the option scan finds '$opt' and the page lacks it" \
    sh -c "[ '$opt' = --no-such-option-anywhere ] && ! grep -q -e '$opt' man1.txt"

# Then: dptrain-plugin(7) cannot fall behind the header: it names the ABI
# version include/dptrain/plugin.h defines, and every capability bit.
hdr="$top_srcdir/include/dptrain/plugin.h"
abi="$(sed -n 's/^#define DPT_ABI_MAJOR \([0-9]*\)$/\1/p' "$hdr").$(sed -n 's/^#define DPT_ABI_MINOR \([0-9]*\)$/\1/p' "$hdr")"
check "dptrain-plugin.7 is of plugin ABI $abi, the header's" \
    grep -q "for dptrain (plugin ABI $abi)" "$man7"
for cap in $(sed -n 's/^#define \(DPT_CAP_[A-Z_]*\) .*/\1/p' "$hdr"); do
    check "dptrain-plugin.7 documents $cap" grep -q "^\.B $cap\$" "$man7"
done

summary
