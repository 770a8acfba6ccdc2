#!/usr/bin/env bash
# Installs the real peers that tests/interop and the benchmark run against, on a
# Debian machine, as root, from Debian's packages:
#   - a JDK and Metro (the JAX-WS reference implementation);
#   - Mono, whose System.Runtime.Serialization carries .NET's XmlMtomReader and
#     XmlMtomWriter (the code behind WCF's MTOM encoder), and its C# compiler;
#   - gSOAP (the C toolkit and its library), a sender in the benchmark;
#   - xmlsec1 and Apache WSS4J, independent verifiers of WS-Security signatures.
# Idempotent and quiet: when everything is already there it returns at once
# without touching apt.
set -euo pipefail

packages=(
    default-jdk-headless libjaxws-java
    mono-runtime mono-mcs
    libmono-system-runtime-serialization4.0-cil libmono-system-servicemodel4.0a-cil
    gsoap libgsoap-dev
    xmlsec1 libwss4j-java
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
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
for tool in javac mcs mono soapcpp2 xmlsec1; do
    command -v "$tool" >/dev/null || { echo "install-peers.sh: $tool missing" >&2; exit 1; }
done
test -f /usr/share/java/jaxws-rt.jar
test -f /usr/share/java/wss4j.jar
