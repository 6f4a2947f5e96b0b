"""Optional plug-in: decode the card's WLT photo with a licensed vendor library.

WLT is a proprietary wavelet format; only vendor libraries decode it (no open
decoder exists), so the kiosk ships none.  A technician who has a licensed
library names it in ``devices.id_reader.photo_decoder``; it is loaded with
ctypes and must export the common ``libwlt2bmp`` entry point::

    int unpack(char *wlt /* 1024 bytes */, char *bmp /* 38862 bytes */, int save_to_file /* 0 */);

returning 1 on success and filling a 102x126 24-bit BMP (some builds write
only the pixel rows; a BMP header is added then).  Without the plug-in the
app simply shows no photo; the raw WLT bytes still go to the platform.
"""
from __future__ import annotations

import ctypes
import struct
from pathlib import Path

from devices.idcard.card import PHOTO_LEN
from devices.idcard.protocol import IdCardError

WIDTH, HEIGHT = 102, 126
ROW_BYTES = (WIDTH * 3 + 3) & ~3                    # BMP rows are 4-byte aligned
BMP_HEADER_LEN = 54
BMP_LEN = BMP_HEADER_LEN + ROW_BYTES * HEIGHT       # 38862, the buffer libwlt2bmp expects


class PhotoDecodeError(IdCardError):
    def __init__(self, message: str):
        super().__init__(message, "photo_decoder")


class WltDecoder:
    """A loaded vendor library; ``decode`` is thread-safe only if the vendor's is,
    so the adapter calls it from its single worker thread."""

    def __init__(self, library: str | Path):
        try:
            self._lib = ctypes.CDLL(str(library))
            self._unpack = self._lib.unpack
        except (OSError, AttributeError) as exc:
            raise PhotoDecodeError(f"cannot load WLT decoder {library}: {exc}") from None
        self._unpack.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int)
        self._unpack.restype = ctypes.c_int
        self.library = str(library)

    def decode(self, wlt: bytes) -> bytes:
        """The photo as BMP file bytes (102x126, 24-bit)."""
        if len(wlt) != PHOTO_LEN:
            raise PhotoDecodeError(f"WLT photo is {len(wlt)} bytes, expected {PHOTO_LEN}")
        source = ctypes.create_string_buffer(bytes(wlt), PHOTO_LEN)
        target = ctypes.create_string_buffer(BMP_LEN)
        result = self._unpack(source, target, 0)
        if result != 1:
            raise PhotoDecodeError(f"WLT decoder {self.library} returned {result}")
        data = target.raw
        return data if data[:2] == b"BM" else bmp_header() + data[:ROW_BYTES * HEIGHT]


def bmp_header() -> bytes:
    """File + info header of the 102x126 24-bit bottom-up BMP the decoders produce."""
    return (b"BM" + struct.pack("<IHHI", BMP_LEN, 0, 0, BMP_HEADER_LEN)
            + struct.pack("<IiiHHIIiiII", 40, WIDTH, HEIGHT, 1, 24, 0, ROW_BYTES * HEIGHT, 3780, 3780, 0, 0))
