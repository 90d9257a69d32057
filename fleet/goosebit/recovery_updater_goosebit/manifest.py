"""Reads version and compatibility from an update.zip's manifest (docs/FORMAT.md).

A package is a zip holding `META-INF/update/manifest.json` (UTF-8 JSON, at most 16 MiB, stored
or deflated) and its signature. goosebit wants, per software image: a SemVer version, a list of
compatible hardware as (hw_model, hw_revision) pairs, the file size and its SHA-1 (the only hash
goosebit gives devices). We map each of the manifest's `products` to a goosebit hardware model
and each of its `hardware_revisions` to a revision of that model; an empty `hardware_revisions`
(any revision on the device side) maps to goosebit's "default" revision. goosebit matches
revisions exactly: a pattern with `*` is refused here, since the server could never match it.
"""

import hashlib
import json
import zipfile
from typing import Any

from goosebit.db.models import SoftwareImageFormat
from goosebit.util.version import Version

ZIP_MAGIC = b"PK\x03\x04"
MANIFEST = "META-INF/update/manifest.json"
SIGNATURE = "META-INF/update/manifest.sig"
MANIFEST_MAX = 16 * 1024 * 1024
FORMAT_VERSION = 1


def parse_package(path: str) -> dict[str, Any]:
    """The goosebit attributes of the package at `path`; ValueError if it is not one of ours."""
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            if MANIFEST not in names or SIGNATURE not in names:
                raise ValueError(f"not an update package: {MANIFEST} or {SIGNATURE} missing")
            info = z.getinfo(MANIFEST)
            if info.file_size > MANIFEST_MAX:
                raise ValueError("manifest larger than 16 MiB")
            with z.open(info) as m:
                raw = m.read(MANIFEST_MAX + 1)
    except zipfile.BadZipFile as e:
        raise ValueError(f"not a zip archive: {e}") from e
    if len(raw) > MANIFEST_MAX:
        raise ValueError("manifest larger than 16 MiB")
    manifest = json.loads(raw.decode("utf-8"))
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ValueError("manifest format_version is not 1")
    attrs: dict[str, Any] = {
        "version": Version.parse(_string(manifest, "version")),
        "compatibility": _compatibility(manifest),
        "image_format": SoftwareImageFormat.SWU,
    }
    size = 0
    sha1 = hashlib.sha1()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            sha1.update(block)
            size += len(block)
    attrs["size"] = size
    attrs["hash"] = sha1.hexdigest()
    return attrs


def _string(manifest: dict[str, Any], key: str) -> str:
    value = manifest.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"manifest field {key} missing or not a string")
    return value


def _strings(manifest: dict[str, Any], key: str) -> list[str]:
    value = manifest.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"manifest field {key} is not a list of strings")
    return value


def _compatibility(manifest: dict[str, Any]) -> list[dict[str, str]]:
    products = _strings(manifest, "products")
    if not products:
        raise ValueError("manifest lists no products")
    revisions = _strings(manifest, "hardware_revisions") or ["default"]
    if any("*" in r for r in revisions):
        raise ValueError("goosebit matches hardware revisions exactly: list them without '*'")
    return [{"hw_model": p, "hw_revision": r} for p in products for r in revisions]
