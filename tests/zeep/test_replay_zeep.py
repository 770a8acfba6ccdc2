"""zeep through asyncmtom.zeep sends again for Digest and NTLM, unchanged user code.

The transports take the user's own httpx client (``auth=``); the endpoint
(tests/helpers/authserver.py) checks the Digest response itself and runs pyspnego's
NTLM acceptor, and decodes what it accepts with the standard library's
``email`` parser.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from authserver import Digest, Ntlm, serve

zeep = pytest.importorskip("zeep")
from zeepservice import NS, envelope, write_wsdl  # noqa: E402

from asyncmtom.zeep import Binary, MtomTransport, SyncMtomTransport  # noqa: E402

USER, PASSWORD = "bob", "s3cret pass"
DATA = os.urandom(3 * 1024 * 1024 + 5)

#: Upload takes any number of ``data`` values; Download is declared, never called.
ELEMENTS = """\
      <xsd:element name="Upload"><xsd:complexType><xsd:sequence>
        <xsd:element name="data" type="xsd:base64Binary" maxOccurs="unbounded"/>
      </xsd:sequence></xsd:complexType></xsd:element>
      <xsd:element name="DownloadResponse"><xsd:complexType><xsd:sequence>
        <xsd:element name="data" type="xsd:base64Binary"/>
      </xsd:sequence></xsd:complexType></xsd:element>
"""
OK = envelope(
    f'<ex:UploadResponse xmlns:ex="{NS}"><ex:received>1</ex:received></ex:UploadResponse>', "11"
)


def wsdl_file(tmp_path: Path, url: str) -> str:
    return write_wsdl(tmp_path, ELEMENTS, "11", location=url)


def binaries(tmp_path: Path) -> list[Any]:
    path = tmp_path / "upload.bin"
    path.write_bytes(DATA)

    async def push(write: Any) -> None:
        for i in range(0, len(DATA), 256 * 1024):
            await write(DATA[i : i + 256 * 1024])

    return [Binary(path), Binary.push(push, size=len(DATA)), Binary(DATA[:4000])]


def check(endpoint: Any, legs: int) -> None:
    assert len(endpoint.heads) == legs, "the message went out once per leg"
    (parts,) = endpoint.parts
    digest = hashlib.sha256(DATA).hexdigest()
    assert sorted(parts.values()) == sorted(
        [digest, digest, hashlib.sha256(DATA[:4000]).hexdigest()]
    )


def ntlm_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    httpx_ntlm = pytest.importorskip("httpx_ntlm")
    credentials = tmp_path / "ntlm-users"
    credentials.write_text(f"EXAMPLE:{USER}:{PASSWORD}\n")
    monkeypatch.setenv("NTLM_USER_FILE", str(credentials))
    return httpx_ntlm.HttpNtlmAuth(f"EXAMPLE\\{USER}", PASSWORD)


@pytest.mark.anyio
@pytest.mark.parametrize("scheme", ["digest", "ntlm"])
async def test_async_transport_with_an_authenticating_client(
    anyio_backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    if scheme == "digest":
        policy: Any = Digest(USER, PASSWORD, early="drain")
        auth: Any = httpx.DigestAuth(USER, PASSWORD)
    else:
        policy, auth = Ntlm(), ntlm_auth(tmp_path, monkeypatch)
    with anyio.fail_after(60):
        async with serve(policy, ok=OK) as endpoint, httpx.AsyncClient(auth=auth) as http:
            transport = MtomTransport(client=http)
            client = zeep.AsyncClient(wsdl_file(tmp_path, endpoint.url), transport=transport)
            result = await client.service.Upload(data=binaries(tmp_path))
    assert result == 1
    check(endpoint, 2 if scheme == "digest" else 3)


@pytest.mark.parametrize("scheme", ["digest", "ntlm"])
def test_sync_transport_with_an_authenticating_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    if scheme == "digest":
        policy: Any = Digest(USER, PASSWORD)
        auth: Any = httpx.DigestAuth(USER, PASSWORD)
    else:
        policy, auth = Ntlm(), ntlm_auth(tmp_path, monkeypatch)

    def call(url: str) -> Any:
        with httpx.Client(auth=auth, timeout=60) as http:
            client = zeep.Client(wsdl_file(tmp_path, url), transport=SyncMtomTransport(client=http))
            return client.service.Upload(data=binaries(tmp_path))

    async def main() -> Any:
        with anyio.fail_after(60):
            async with serve(policy, ok=OK) as endpoint:
                result = await anyio.to_thread.run_sync(call, endpoint.url)
        return result, endpoint

    result, endpoint = anyio.run(main)
    assert result == 1
    check(endpoint, 2 if scheme == "digest" else 3)
