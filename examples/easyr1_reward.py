"""The Dr. Seg reward for EasyR1: pass this file as EasyR1's batch reward function.

    worker.reward.reward_function=examples/easyr1_reward.py:compute_score
    worker.reward.reward_function_kwargs.rollout_size=4096   # rollout_batch_size * rollout.n
    worker.reward.reward_function_kwargs.checkpoint_dir=${trainer.save_checkpoint_path}

See ``examples/easyr1_drseg.yaml`` and `rankreward.adapters.easyr1` for what each option does.
"""

from rankreward.adapters.easyr1 import REWARD_NAME, REWARD_TYPE, compute_score

__all__ = ["REWARD_NAME", "REWARD_TYPE", "compute_score"]
