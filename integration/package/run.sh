#!/usr/bin/env bash
# Installs vzrun's Debian package into a scratch root with its own dpkg
# database (dpkg --root), checks what a user gets (the binary, a man page
# per command, bash completion), removes it again and checks that nothing
# of it is left.
#   integration/package/run.sh PACKAGE.deb
set -euo pipefail
deb=$(readlink -f "${1:?usage: integration/package/run.sh PACKAGE.deb}")
root=$(mktemp -d /tmp/vzrun-package.XXXXXX)
trap 'rm -rf "$root"' EXIT
fail() { echo "integration/package: $*" >&2; exit 1; }

mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
touch "$root/var/lib/dpkg/status"
dpkg --root="$root" --force-script-chrootless --log=/dev/null -i "$deb" >/dev/null
ver=$("$root/usr/bin/vzrun" --version | head -1)
[[ $ver == "vzrun version "* ]] || fail "vzrun --version says: $ver"

pages=$(ls "$root/usr/share/man/man8")
for cmd in run create start exec delete state list update checkpoint restore features; do
    grep -qx "vzrun-$cmd.8.gz" <<<"$pages" || fail "no man page vzrun-$cmd.8.gz: $pages"
done
man -l "$root/usr/share/man/man8/vzrun-run.8.gz" 2>/dev/null | grep -q -- "--detach" ||
    fail "man -l vzrun-run.8.gz does not document --detach"
man -l "$root/usr/share/man/man8/vzrun.8.gz" 2>/dev/null | grep -q "vzrun-run(8)" ||
    fail "man -l vzrun.8.gz does not point to vzrun-run(8)"

got=$(bash -c "source '$root/usr/share/bash-completion/completions/vzrun'; complete -p vzrun")
[[ $got == *"vzrun"* ]] || fail "bash completion not registered: $got"
words=$(bash -c "source '$root/usr/share/bash-completion/completions/vzrun'
    COMP_WORDS=(vzrun ch); COMP_CWORD=1; COMP_LINE='vzrun ch'; COMP_POINT=8
    \$(complete -p vzrun | sed -n 's/.*-F \([^ ]*\).*/\1/p') vzrun ch vzrun
    echo \"\${COMPREPLY[*]}\"")
[[ $words == *checkpoint* ]] || fail "bash completion of 'vzrun ch' gives: $words"
[ -s "$root/usr/share/zsh/vendor-completions/_vzrun" ] || fail "no zsh completion"
[ -s "$root/usr/share/fish/vendor_completions.d/vzrun.fish" ] || fail "no fish completion"

dpkg --root="$root" --force-script-chrootless --log=/dev/null -P vzrun >/dev/null
left=$(cd "$root" && find . -path ./var/lib/dpkg -prune -o -type f -print)
[ -z "$left" ] || fail "files left after removal: $left"
echo "integration/package: $(basename "$deb"): installed, $(wc -l <<<"$pages") man pages, completions for bash, zsh and fish, removed without a trace"
