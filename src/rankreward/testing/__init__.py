"""Test and benchmark helpers: a reference-style Dr. Seg reward and (with the trl extra) a tiny
offline Qwen2.5-VL. Nothing here is imported by the rest of the package."""
