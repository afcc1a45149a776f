#!/usr/bin/env bash
# Dr. Seg GRPO training with OpenRLHF (0.11): the paper's 7B setting on one node of 4 x 80 GB GPUs.
#
#   bash examples/openrlhf_drseg.sh /data/drseg/train.jsonl [extra arguments]
#
# The JSONL has `prompt` (the Look-to-Confirm prompt, rankreward.rewards.recipes.drseg.build_prompt(question)),
# `images` (image paths) and `solution` (the JSON of bbox_2d/point_2d objects, the label).
# Paper: 8 rollouts per prompt, lr 1e-6, KL 1e-2 (GRPO's KL loss, k3 estimator).
set -euo pipefail
DATA=${1:?train jsonl}
shift
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODEL=${MODEL:-Qwen/Qwen2.5-VL-7B-Instruct}
BATCH=${BATCH:-16}          # prompts per rollout step
N=${N:-8}                   # rollouts per prompt
OUT=${OUT:-runs/openrlhf_drseg}

# The reward file reads its settings from the environment of the Ray workers (vLLM engines).
ENV_JSON=$(printf '{"env_vars": {"RANKREWARD_COMMIT_EVERY": "%d", "RANKREWARD_STATE_FILE": "%s"}}' \
    $((BATCH * N)) "$OUT/normalizer/step-{step}.npz")

ray job submit --address="${RAY_ADDRESS:-http://127.0.0.1:8265}" \
    --runtime-env-json="$ENV_JSON" \
    -- python3 -m openrlhf.cli.train_ppo_ray \
    --actor.model_name_or_path "$MODEL" \
    --actor.num_nodes 1 --actor.num_gpus_per_node 4 \
    --data.prompt_dataset "$DATA" --data.input_key prompt --data.label_key solution \
    --data.image_key images \
    --reward.remote_url "$HERE/openrlhf_reward.py" \
    --algo.advantage.estimator group_norm \
    --algo.kl.use_loss --algo.kl.init_coef 1e-2 --algo.kl.estimator k3 \
    --rollout.batch_size $BATCH --rollout.n_samples_per_prompt $N \
    --train.batch_size $((BATCH * N)) \
    --actor.adam.lr 1e-6 \
    --ckpt.output_dir "$OUT" --ckpt.path "$OUT/checkpoints" \
    "$@"
