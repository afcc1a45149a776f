"""The Dr. Seg reward: Look-to-Confirm prompt, completion parser, rules and the batched reward."""

from .parser import (
    LookBlock,
    ParsedCompletion,
    Problem,
    answer_items_score,
    extract_answer,
    parse_completion,
    parse_objects,
    read_answer,
    structure_ok,
)
from .prompt import LOOK_TO_CONFIRM, PLACEHOLDER_PHRASES, build_messages, build_prompt
from .reward import (
    COMPONENT_MAX,
    COMPONENTS,
    AccuracyConfig,
    DrSegReward,
    accuracy_metrics,
    batch_accuracy,
    completion_text,
    parse_ground_truth,
)
from .rules import format_reward, look_reward, non_repeat_problems, non_repeat_reward

__all__ = [
    "COMPONENTS",
    "COMPONENT_MAX",
    "LOOK_TO_CONFIRM",
    "PLACEHOLDER_PHRASES",
    "AccuracyConfig",
    "DrSegReward",
    "LookBlock",
    "ParsedCompletion",
    "Problem",
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
    "read_answer",
    "structure_ok",
]
