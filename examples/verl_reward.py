"""The file verl's ``reward.custom_reward_function.path`` points at (``name=compute_score``).

verl loads a custom reward function from a file path, so this file re-exports the adapter.
Configure it through ``reward.custom_reward_function.reward_kwargs`` (``commit_every`` is
required); see ``examples/verl_drseg.sh`` and ``rankreward.adapters.verl``.
"""

from rankreward.adapters.verl import compute_score, compute_score_batch

__all__ = ["compute_score", "compute_score_batch"]
