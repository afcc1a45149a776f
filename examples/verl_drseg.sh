#!/usr/bin/env bash
# Dr. Seg GRPO training with verl (0.9): the paper's 7B setting on one node of 4 x 80 GB GPUs.
#
#   bash examples/verl_drseg.sh /data/drseg/train.parquet /data/drseg/val.parquet [extra overrides]
#
# The parquet files follow verl's RL dataset layout: `prompt` (chat messages whose user turn is
# "<image>" + rankreward.rewards.recipes.drseg.build_prompt(question)), `images`, `data_source`, and
# `reward_model: {"ground_truth": <solution JSON of bbox_2d/point_2d objects>}`.
# Paper: 8 rollouts per prompt, lr 1e-6, KL 1e-2 (low-variance "low_var_kl"), 400-600 steps.
set -euo pipefail
TRAIN=${1:?train parquet}
VAL=${2:?val parquet}
shift 2
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
BATCH=${BATCH:-16}          # prompts per step
ROLLOUT_N=${ROLLOUT_N:-8}   # rollouts per prompt
OUT=${OUT:-runs/verl_drseg}

python3 -m verl.trainer.main_ppo \
    algorithm.adv_estimator=grpo \
    algorithm.use_kl_in_reward=False \
    data.train_files="$TRAIN" \
    data.val_files="$VAL" \
    data.image_key=images \
    data.train_batch_size=$BATCH \
    data.max_prompt_length=2048 \
    data.max_response_length=1024 \
    actor_rollout_ref.model.path="$MODEL" \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=$BATCH \
    actor_rollout_ref.actor.use_kl_loss=True \
    actor_rollout_ref.actor.kl_loss_coef=0.01 \
    actor_rollout_ref.actor.kl_loss_type=low_var_kl \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=$ROLLOUT_N \
    reward.custom_reward_function.path="$HERE/verl_reward.py" \
    reward.custom_reward_function.name=compute_score \
    +reward.custom_reward_function.reward_kwargs.commit_every=$((BATCH * ROLLOUT_N)) \
    +reward.custom_reward_function.reward_kwargs.state_file="$OUT/normalizer/step-{step}.npz" \
    trainer.n_gpus_per_node=4 \
    trainer.nnodes=1 \
    trainer.total_training_steps=500 \
    trainer.default_local_dir="$OUT" \
    trainer.project_name=drseg \
    trainer.experiment_name=verl_drseg \
    "$@"
