#!/usr/bin/env bash
# Dr. Seg GRPO with ms-swift (4 GPUs, vLLM colocated), the paper's settings: 8 rollouts per
# prompt, lr 1e-6, KL beta 1e-2, the Look-to-Confirm prompt in the dataset's messages.
# ms-swift 4.6 pins trl < 1.0: install it in its own environment (pip install ms-swift==4.6.0
# rankreward[torch]). Dataset rows: {"messages": [{"role": "user", "content": "<image>" +
# the Look-to-Confirm text}], "images": [path], "solution": "[{\"bbox_2d\": ...}]"}.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NPROC_PER_NODE=4 swift rlhf \
    --rlhf_type grpo \
    --model Qwen/Qwen2.5-VL-7B-Instruct \
    --dataset "${DATASET:-data/multiobject_7k.jsonl}" \
    --external_plugins "$HERE/swift_drseg_plugin.py" \
    --reward_funcs drseg \
    --callbacks rankreward \
    --num_generations 8 \
    --per_device_train_batch_size 8 \
    --learning_rate 1e-6 \
    --beta 0.01 \
    --temperature 1.0 \
    --max_completion_length 1024 \
    --use_vllm true --vllm_mode colocate --vllm_gpu_memory_utilization 0.4 \
    --save_steps 100 --logging_steps 1 \
    --output_dir "${OUT:-runs/swift_drseg}" \
    --deepspeed zero3 "$@"
# components as separate reward functions (per-component logs, or --scale_rewards gdpo):
#   --reward_funcs drseg_format drseg_look drseg_accuracy drseg_non_repeat
