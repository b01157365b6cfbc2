#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""extract_vmlinux.py BZIMAGE OUT: unpack an x86 bzImage to its ELF vmlinux.

Given an ELF kernel with a PVH note, QEMU jumps straight to the 32-bit PVH
entry and skips the bzImage's real-mode setup and self-decompression, which
under TCG saves seconds per boot. The compressed kernel's place is read from
the boot protocol header (payload_offset/payload_length, protocol 2.08+)
rather than searched for. Only stdlib decompressors are used; a zstd payload
goes through the zstd program if it is installed.
"""

import lzma
import shutil
import struct
import subprocess
import sys
import zlib


def payload(image):
    if image[0x202:0x206] != b"HdrS":
        sys.exit("extract_vmlinux: not a bzImage (no HdrS header)")
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x208:
        sys.exit(f"extract_vmlinux: boot protocol {version:#x} has no payload fields")
    setup_sects = image[0x1F1] or 4
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = (setup_sects + 1) * 512 + offset
    return image[start:start + length]


def decompress(data):
    # The kernel build appends the uncompressed size after the stream; each
    # decoder below stops at the end of its stream and ignores it.
    if data.startswith(b"\xfd7zXZ\x00"):
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_XZ)
        return dec.decompress(data)
    if data.startswith(b"\x5d\x00\x00"):
        dec = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
        return dec.decompress(data)
    if data.startswith(b"\x1f\x8b"):
        return zlib.decompressobj(wbits=16 + zlib.MAX_WBITS).decompress(data)
    if data.startswith(b"\x28\xb5\x2f\xfd"):
        zstd = shutil.which("zstd")
        if zstd is None:
            sys.exit("extract_vmlinux: zstd payload, and no zstd program")
        return subprocess.run([zstd, "-dc"], input=data, check=True,
                              capture_output=True).stdout
    sys.exit(f"extract_vmlinux: unknown compression (magic {data[:4].hex()})")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__.splitlines()[0])
    with open(sys.argv[1], "rb") as f:
        image = f.read()
    elf = decompress(payload(image))
    if not elf.startswith(b"\x7fELF"):
        sys.exit("extract_vmlinux: payload did not decompress to an ELF file")
    with open(sys.argv[2], "wb") as f:
        f.write(elf)


if __name__ == "__main__":
    main()
