"""The Dr. Seg recipe (and the VisionReasoner baseline, which reads the same answers).

- `prompt`: the Look-to-Confirm prompt and the placeholder phrases non_repeat rejects;
- `parser`, `rules`: the readable restatement of the released parsing and rules (the spec);
- `scan`: the Numba batch scanner for the common answer form;
- `batch`: `DrSegRecipe`, scan + fallbacks + accuracy -> finished per-completion terms;
- `accuracy`: `AccuracyConfig` and the batched accuracy kernels; `inputs`: ground truths;
- `reward`: `DrSegReward` / `VisionReasonerReward` and the ``drseg`` / ``visionreasoner``
  presets, named rewards of the framework.
"""

from .accuracy import COMPAT_MODES, AccuracyConfig, accuracy_metrics, batch_accuracy
from .batch import DRSEG_COLUMNS, NON_REPEAT_MODES, DrSegRecipe
from .inputs import parse_ground_truth
from .parser import (
    LookBlock,
    ParsedCompletion,
    Problem,
    ReleasedAnswer,
    answer_items_score,
    parse_completion,
    parse_objects,
    read_answer,
    read_answer_released,
)
from .prompt import (
    LOOK_TO_CONFIRM,
    PLACEHOLDER_PHRASES,
    VISIONREASONER_PROMPT,
    build_messages,
    build_prompt,
    placeholder_phrases,
    preprocess_question,
)
from .reward import (
    ACCURACY_MODES,
    COMPONENT_MAX,
    COMPONENTS,
    DrSegReward,
    VisionReasonerReward,
    drseg_reward,
    visionreasoner_reward,
)
from .rules import (
    format_reward,
    look_reward,
    non_repeat_problems,
    non_repeat_reward,
    visionreasoner_non_repeat,
)

__all__ = [
    "ACCURACY_MODES",
    "COMPAT_MODES",
    "COMPONENTS",
    "COMPONENT_MAX",
    "DRSEG_COLUMNS",
    "LOOK_TO_CONFIRM",
    "NON_REPEAT_MODES",
    "PLACEHOLDER_PHRASES",
    "VISIONREASONER_PROMPT",
    "AccuracyConfig",
    "DrSegRecipe",
    "DrSegReward",
    "LookBlock",
    "ParsedCompletion",
    "Problem",
    "ReleasedAnswer",
    "VisionReasonerReward",
    "accuracy_metrics",
    "answer_items_score",
    "batch_accuracy",
    "build_messages",
    "build_prompt",
    "drseg_reward",
    "format_reward",
    "look_reward",
    "non_repeat_problems",
    "non_repeat_reward",
    "parse_completion",
    "parse_ground_truth",
    "parse_objects",
    "placeholder_phrases",
    "preprocess_question",
    "read_answer",
    "read_answer_released",
    "visionreasoner_non_repeat",
    "visionreasoner_reward",
]
