#!/usr/bin/env bash
# Unpack the current ngspice release from Debian's bookworm-backports into DIR
# (DIR/bin/ngspice, DIR/lib/libngspice.so.0) without installing it: the system's ngspice
# stays as it is. Used by `make test-ngspice-next`; needs Debian 12 and its package mirror.
set -euo pipefail
dest=${1:?usage: tools/ngspice-next.sh DIR}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/sources" "$work/lists/partial" "$work/cache/archives/partial" "$work/root"
cat > "$work/sources/backports.sources" <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
opts=(-o Dir::Etc::sourcelist=/dev/null -o "Dir::Etc::sourceparts=$work/sources"
      -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
[ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
apt-get "${opts[@]}" -qq update
(cd "$work" && apt-get "${opts[@]}" -qq download ngspice/bookworm-backports libngspice0/bookworm-backports)
for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$work/root"; done
mkdir -p "$dest/bin" "$dest/lib"
cp "$work/root/usr/bin/ngspice" "$dest/bin/ngspice"
cp -P "$work/root"/usr/lib/*/libngspice.so.0* "$dest/lib/"
echo "unpacked $("$dest/bin/ngspice" --version | grep -m1 -o 'ngspice-[0-9][0-9.]*') into $dest"
