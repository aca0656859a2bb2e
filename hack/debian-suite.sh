# Sourced by the scripts that take a peer or a tool from another Debian
# suite than the machine's (hack/install-criu.sh, hack/install-crun.sh):
# an apt configuration of their own, naming a suite of the archive the
# machine's own apt sources name (read here, never written in the
# repository), so that the system's package lists stay as they are.

# suite_apt DIR SUITE: the private apt in DIR, its lists fetched for
# SUITE; sets apt_opts for apt-get and apt-cache.
suite_apt() {
    # Lists and sources of an earlier run (another suite) must not mix in.
    rm -rf "$1/sources" "$1/lists"
    mkdir -p "$1/lists/partial" "$1/sources" "$1/archives/partial" "$1/cache"
    cat >"$1/sources/vzrun-$2.sources" <<SRC
Types: deb
URIs: $("$(dirname "$0")/vm/archive.sh")
Suites: $2
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_opts="-o APT::Sandbox::User=root -o Dir::Etc::SourceList=/dev/null
        -o Dir::Etc::SourceParts=$1/sources -o Dir::State::Lists=$1/lists
        -o Dir::Cache::Archives=$1/archives -o Dir::Cache=$1/cache -o Dir::State::status=/dev/null"
    # shellcheck disable=SC2086
    apt-get -q $apt_opts update >/dev/null
}

# unpack_closure PKG DEST: PKG and everything it depends on, from the
# suite alone, unpacked into DEST (made anew).
unpack_closure() {
    rm -rf "$2" "$2.debs"
    mkdir -p "$2.debs"
    # shellcheck disable=SC2086
    pkgs=$(apt-cache $apt_opts depends --recurse --no-recommends --no-suggests \
            --no-conflicts --no-breaks --no-replaces --no-enhances "$1" |
           grep -v '^[ <]' | sort -u)
    # shellcheck disable=SC2086
    (cd "$2.debs" && apt-get -q $apt_opts download $pkgs >/dev/null)
    for deb in "$2.debs"/*.deb; do
        dpkg-deb -x "$deb" "$2"
    done
    rm -rf "$2.debs"
}
