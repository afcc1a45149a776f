"""Deprecated location of the Dr. Seg reward: it is now the recipe
`rankreward.rewards.recipes.drseg` of the one reward framework. Every name this package exported
is re-exported here, with a `FutureWarning` on import, until `REMOVAL_RELEASE` (see CHANGELOG,
"Deprecated")."""

import warnings

from .._deprecation import REMOVAL_RELEASE
from ..rewards.recipes.drseg import (
    COMPONENT_MAX,
    COMPONENTS,
    LOOK_TO_CONFIRM,
    PLACEHOLDER_PHRASES,
    VISIONREASONER_PROMPT,
    AccuracyConfig,
    DrSegReward,
    LookBlock,
    ParsedCompletion,
    Problem,
    ReleasedAnswer,
    VisionReasonerReward,
    accuracy_metrics,
    answer_items_score,
    batch_accuracy,
    build_messages,
    build_prompt,
    format_reward,
    look_reward,
    non_repeat_problems,
    non_repeat_reward,
    parse_completion,
    parse_ground_truth,
    parse_objects,
    placeholder_phrases,
    preprocess_question,
    read_answer,
    read_answer_released,
)
from ..text import completion_text, extract_answer, structure_ok

warnings.warn(
    "rankreward.drseg is deprecated: import from rankreward.rewards.recipes.drseg "
    "(DrSegReward and VisionReasonerReward also from rankreward.rewards; completion_text, "
    f"extract_answer and structure_ok from rankreward.text); removed in rankreward {REMOVAL_RELEASE}",
    FutureWarning,
    stacklevel=2,
)

__all__ = [
    "COMPONENTS",
    "COMPONENT_MAX",
    "LOOK_TO_CONFIRM",
    "PLACEHOLDER_PHRASES",
    "VISIONREASONER_PROMPT",
    "AccuracyConfig",
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
    "completion_text",
    "extract_answer",
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
    "structure_ok",
]
