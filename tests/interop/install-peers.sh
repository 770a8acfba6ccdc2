#!/usr/bin/env bash
# Installs the real SOAP peers that tests/interop runs against, on a Debian
# machine, as root: a JDK and Metro (the JAX-WS reference implementation) from
# Debian's packages.  Idempotent and quiet: when everything is already there it
# returns at once without touching apt.
set -euo pipefail

packages=(default-jdk-headless libjaxws-java)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ] && command -v javac >/dev/null 2>&1 \
    && [ -f /usr/share/java/jaxws-rt.jar ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-peers.sh: not root, cannot install: ${missing[*]}" >&2
    exit 1
fi

echo "install-peers.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v javac >/dev/null
test -f /usr/share/java/jaxws-rt.jar
