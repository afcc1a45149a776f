"""Images and masks over the wire to a reward service that hosts the segmenter: each distinct
image travels once per request (a PNG in the request's ``images_b64`` table, the ``image``
column holding its index) or by reference (a path under the service's ``--image-root``); a
dense mask travels as an uncompressed COCO RLE.

Examples:
    >>> img = np.zeros((2, 3, 3), np.uint8)
    >>> column, table = pack_images([img, img.copy(), "a.png"])
    >>> column, len(table)
    ([0, 0, 'a.png'], 1)
    >>> [a.shape for a in unpack_images(column[:2], table)]
    [(2, 3, 3), (2, 3, 3)]
"""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .base import as_rgb, image_key

__all__ = ["mask_counts", "pack_images", "unpack_images"]


def pack_images(column: Sequence[Any]) -> tuple[list[Any], list[str]]:
    """A batch's image column for JSON: paths stay paths; pictures (PIL, arrays) become an
    index into a table of base64 PNGs, one per distinct picture. O(B H W)."""
    from PIL import Image

    out: list[Any] = []
    table: list[str] = []
    seen: dict[bytes, int] = {}
    for k, img in enumerate(column):
        if isinstance(img, (str, os.PathLike)):
            out.append(str(img))
            continue
        rgb = as_rgb(img, f"sample {k}: the 'image' column")
        key = image_key(rgb)
        if key not in seen:
            buf = io.BytesIO()
            Image.fromarray(rgb).save(buf, format="PNG")
            seen[key] = len(table)
            table.append(base64.b64encode(buf.getvalue()).decode("ascii"))
        out.append(seen[key])
    return out, table


def _under(root: Path, name: str, k: int) -> Path:
    path = (root / name).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ValueError(f"sample {k}: image path {name!r} leaves the image root")
    return path


def unpack_images(
    column: Sequence[Any],
    table: Sequence[str] | None = None,
    root: str | os.PathLike[str] | None = None,
) -> list[np.ndarray]:
    """What `pack_images` packed, as RGB arrays: an int is an entry of ``table`` (decoded once
    however many samples share it), a string a file under ``root`` (never outside it; no
    ``root``: paths are refused). ``ValueError`` names the sample. O(B H W)."""
    from PIL import Image

    decoded: dict[Any, np.ndarray] = {}
    out = []
    for k, ref in enumerate(column):
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise ValueError(
                f"sample {k}: an image is an index into images_b64 or a path, got {type(ref).__name__}"
            )
        if ref not in decoded:
            try:
                if isinstance(ref, int):
                    if table is None or not 0 <= ref < len(table):
                        raise ValueError(
                            f"index {ref} is not in images_b64 ({0 if table is None else len(table)} images)"
                        )
                    raw = io.BytesIO(base64.b64decode(table[ref], validate=True))
                else:
                    if root is None:
                        raise ValueError("image paths need the service's --image-root")
                    raw = _under(Path(root), ref, k)
                with Image.open(raw) as im:
                    decoded[ref] = as_rgb(im, f"sample {k}: the 'image' column")
            except (OSError, ValueError, TypeError) as err:
                raise ValueError(f"sample {k}: {err}") from None
        out.append(decoded[ref])
    return out


def mask_counts(mask: Any) -> dict[str, Any]:
    """A dense (H, W) mask as an uncompressed COCO RLE ``{"size": [H, W], "counts": [...]}``
    (column-major runs, background first), which `rankreward.metrics.read_mask` reads back.
    O(H W).

    Examples:
        >>> mask_counts(np.array([[0, 1], [1, 1]]))
        {'size': [2, 2], 'counts': [1, 3]}
    """
    m = np.asarray(mask) != 0
    if m.ndim != 2:
        raise ValueError(f"a mask must be (H, W), got {m.shape}")
    flat = m.T.ravel()  # COCO runs go down the columns
    edges = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate([[0], edges, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        runs = [0, *runs]
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": [int(r) for r in runs]}
