"""The coordinate frames, as the rewards read them: `rankreward.frames` is their one home
(the reader, the recipes and the evaluation share its arithmetic)."""

from ..frames import FRAMES, Frame, check_size, from_pixels, scale_pairs, to_pixels

__all__ = ["FRAMES", "Frame", "check_size", "from_pixels", "scale_pairs", "to_pixels"]
