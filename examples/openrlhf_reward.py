"""The file to pass to OpenRLHF as ``--reward.remote_url examples/openrlhf_reward.py``.

OpenRLHF imports it in every vLLM engine and calls ``reward_func(queries, prompts, labels)``.
Configuration comes from ``RANKREWARD_*`` environment variables (``RANKREWARD_COMMIT_EVERY`` =
rollout.batch_size x rollout.n_samples_per_prompt is required); pass them to the Ray job's
runtime environment as ``examples/openrlhf_drseg.sh`` does. See ``rankreward.adapters.openrlhf``.
"""

from rankreward.adapters.openrlhf import reward_func_from_env

reward_func = reward_func_from_env()
