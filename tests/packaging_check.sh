#!/usr/bin/env bash
# Packaging check: `python -m build` makes an sdist and a wheel, `twine check`
# accepts both, and the wheel installed into a fresh virtual environment passes
# a smoke test (import, write a small MTOM message, decode it with the standard
# library's email parser, run the command line).
#
# The build runs on a copy of the files git tracks, so the working tree gets no
# build/ or dist/ and nothing untracked reaches the packages.  Needs python3
# with venv and access to the package index (for build, twine and setuptools).
#
#     bash tests/packaging_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_DISABLE_PIP_VERSION_CHECK=1

echo "== copying the tracked files"
mkdir "$work/src"
git ls-files -z | xargs -0 cp --parents -t "$work/src"

echo "== building the sdist and the wheel"
"$PYTHON" -m venv "$work/tools"
"$work/tools/bin/python" -m pip install -q build twine
"$work/tools/bin/python" -m build --outdir "$work/dist" "$work/src"
ls -l "$work/dist"

echo "== twine check"
"$work/tools/bin/python" -m twine check --strict "$work/dist"/*

echo "== contents"
"$work/tools/bin/python" - "$work/dist" <<'PY'
import sys, tarfile, zipfile
from pathlib import Path

dist = Path(sys.argv[1])
[wheel] = dist.glob("asyncmtom-*.whl")
[sdist] = dist.glob("asyncmtom-*.tar.gz")
names = zipfile.ZipFile(wheel).namelist()
for needed in ("asyncmtom/__init__.py", "asyncmtom/py.typed", "asyncmtom/zeep/__init__.py",
               "asyncmtom/zeep/xmime.xsd",
               "asyncmtom/wssec/__init__.py", "asyncmtom/_core/digest.py",
               "asyncmtom/__main__.py"):
    assert needed in names, f"{needed} missing from {wheel.name}"
stray = [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]
assert not stray, f"the wheel ships {stray[:3]}"
members = tarfile.open(sdist).getnames()
root = members[0].split("/")[0]
for needed in ("README.md", "pyproject.toml", "asyncmtom/py.typed"):
    assert f"{root}/{needed}" in members, f"{needed} missing from {sdist.name}"
print(f"{wheel.name}: {len(names)} files; {sdist.name}: {len(members)} members")
PY

echo "== smoke test of the installed wheel"
"$PYTHON" -m venv "$work/smoke"
"$work/smoke/bin/python" -m pip install -q "$work/dist"/asyncmtom-*.whl
cd "$work"   # away from the source tree: the import must find the installed package
"$work/smoke/bin/python" - <<'PY'
import email
import email.policy
import sys

import anyio

import asyncmtom
from asyncmtom import SOAP12, MtomEncoding, XmlWriter

assert "site-packages" in asyncmtom.__file__, asyncmtom.__file__
assert "zeep" not in sys.modules and "httpx" not in sys.modules


async def chunks():
    yield b"\x00\x01" * 1000
    yield b"\r\n--not-a-boundary\r\n"


async def main() -> tuple[str, bytes]:
    writer = XmlWriter(MtomEncoding(soap=SOAP12, action="urn:example:Upload"))
    with writer.element("Envelope", SOAP12.namespace, "s"):
        with writer.element("Body", SOAP12.namespace, "s"):
            with writer.element("Upload", "urn:example", "ex"):
                with writer.element("data", "urn:example", "ex"):
                    await writer.pull_bytes(chunks(), content_type="application/pdf")
    body = b"".join([chunk async for chunk in writer.body()])
    return writer.content_type, body


content_type, body = anyio.run(main)
message = email.message_from_bytes(
    b"Content-Type: " + content_type.encode() + b"\r\nMIME-Version: 1.0\r\n\r\n" + body,
    policy=email.policy.HTTP,
)
assert not message.defects, message.defects
root, part = message.iter_parts()
assert b"xop:Include" in root.get_payload(decode=True)
assert part.get_content_type() == "application/pdf"
assert part.get_payload(decode=True) == b"\x00\x01" * 1000 + b"\r\n--not-a-boundary\r\n"
print(f"asyncmtom {asyncmtom.__version__} from the wheel: MTOM message of {len(body)} bytes "
      "decoded by email")
PY
"$work/smoke/bin/python" -m asyncmtom --help >/dev/null
echo "packaging check passed"
