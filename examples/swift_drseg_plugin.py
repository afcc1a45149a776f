"""The Dr. Seg reward for ms-swift: pass this file with ``--external_plugins``.

    swift rlhf --rlhf_type grpo --model Qwen/Qwen2.5-VL-7B-Instruct \\
        --dataset data/multiobject_7k.jsonl --external_plugins examples/swift_drseg_plugin.py \\
        --reward_funcs drseg --callbacks rankreward ...

Registers the reward functions ``drseg`` (the whole reward) and ``drseg_format``,
``drseg_look``, ``drseg_accuracy``, ``drseg_non_repeat`` (its components) and the callback
``rankreward`` (per-step commits, window saved with every checkpoint); see
`rankreward.adapters.swift` and ``examples/swift_drseg.sh``.
"""

from rankreward.adapters.swift import register

register()
