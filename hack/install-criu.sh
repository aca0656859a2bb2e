#!/bin/sh
# Makes CRIU 4.2+ available as `criu`: bookworm's 3.17 dies on the vDSO
# of Linux 6.13 and later, and 4.1 cannot dump a TCP socket on Linux 6.16
# and later (it asks every socket for SO_PASSSEC, which those kernels
# refuse outside AF_UNIX/netlink; fixed in 4.2). Debian's forky suite has
# CRIU 4.2: it and its whole library closure are
# downloaded from the Debian archive the machine's own apt sources name
# (read here, never written in the repository), through an apt
# configuration of its own (the system's package lists stay bookworm's),
# unpacked into a prefix, and run through that prefix's own loader, so
# forky's libraries never mix with the system's. A wrapper named `criu`
# goes first on PATH.
#
# usage: hack/install-criu.sh   (CRIU_PREFIX, default /opt/vzrun-criu;
#                                CRIU_WRAPPER, default /usr/local/bin/criu)
set -eu
prefix=${CRIU_PREFIX:-/opt/vzrun-criu}
wrapper=${CRIU_WRAPPER:-/usr/local/bin/criu}

usable() {
    v=$("$1" --version 2>/dev/null | awk '/^Version:/ {print $2}')
    case "$v" in ""|[0-3].*|4.[01]|4.[01].*) return 1 ;; esac
    "$1" check >/dev/null 2>&1
}
if c=$(command -v criu) && usable "$c"; then
    echo "install-criu: $c is CRIU $("$c" --version | awk '/^Version:/ {print $2}'), nothing to do"
    exit 0
fi

. "$(dirname "$0")/debian-suite.sh"
suite_apt "$prefix/apt" forky
# criu and everything it depends on, from forky alone.
unpack_closure criu "$prefix/root.tmp"
rm -rf "$prefix/root"
mv "$prefix/root.tmp" "$prefix/root"

root=$prefix/root
libs=$root/usr/lib/x86_64-linux-gnu:$root/lib/x86_64-linux-gnu
loader=$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2
[ -e "$loader" ] || loader=$root/lib64/ld-linux-x86-64.so.2
mkdir -p "$(dirname "$wrapper")"
cat > "$wrapper.tmp" <<W
#!/bin/sh
# CRIU from Debian forky with its own libraries (hack/install-criu.sh).
exec $loader --library-path $libs $root/usr/sbin/criu "\$@"
W
chmod 755 "$wrapper.tmp"
mv "$wrapper.tmp" "$wrapper"
if ! usable "$wrapper"; then
    echo "install-criu: $wrapper does not pass 'criu check':" >&2
    "$wrapper" check >&2 || true
    exit 1
fi
echo "install-criu: $("$wrapper" --version | awk '/^Version:/ {print $2}') at $wrapper (prefix $prefix)"
