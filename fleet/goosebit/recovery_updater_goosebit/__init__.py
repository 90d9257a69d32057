"""goosebit plugin: our update.zip as a goosebit software image.

goosebit (0.2.x) reads the metadata of an uploaded image in `goosebit.updates.swdesc.parse_file`,
which knows only SWUpdate (.swu, cpio) and RAUC (squashfs) by their first four bytes, and has no
hook for other formats. Its plugin mechanism (entry point group `goosebit.plugins`, loaded when
`goosebit:app` is imported, before any request) is the supported way to run our code in the
server, so this plugin wraps that one function: a zip goes to `manifest.parse_package`, anything
else to goosebit's own parser unchanged.

Nothing this plugin reads is trusted by a device: the server only uses version and compatibility
to decide whom to offer the package to. The device verifies the manifest's signature and every
chunk before it writes (docs/FLEET.md).
"""

from typing import Any

from anyio import Path
from goosebit.schema.plugins import PluginSchema
from goosebit.updates import swdesc

from .manifest import ZIP_MAGIC, parse_package

_goosebit_parse_file = swdesc.parse_file


async def parse_file(file: Path) -> dict[str, Any]:
    """goosebit's parse_file, extended with our update.zip."""
    with open(file, "rb") as f:
        magic = f.read(4)
    if magic == ZIP_MAGIC:
        return parse_package(str(file))
    return await _goosebit_parse_file(file)


# `goosebit.updates` calls `swdesc.parse_file` through the module attribute (and
# `swdesc.parse_remote` calls it by its global name in the same module), so replacing the
# attribute reaches both uploads and remote URLs.
swdesc.parse_file = parse_file

config = PluginSchema(name="recovery_updater")
