#!/bin/sh
# Prints the Debian archive the machine's own apt sources name (the VM
# scripts fetch from it; no archive's name is written in the repository).
uri=$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$uri" ] || { echo "no Debian archive in the machine's apt sources" >&2; exit 1; }
echo "$uri"
