"""The Look-to-Confirm prompt of the Dr. Seg paper and helpers to build chat prompts with it."""

from __future__ import annotations

from typing import Any

__all__ = ["LOOK_TO_CONFIRM", "PLACEHOLDER_PHRASES", "build_messages", "build_prompt"]

#: The phrases of the prompt's example that a policy must not copy (non_repeat checks them).
PLACEHOLDER_PHRASES = ("your reasoning text", "your visual focus", "more reasoning text")

#: The user-turn template; ``{question}`` is the referring expression or task question.
LOOK_TO_CONFIRM = (
    'Please find "{question}" with bboxs and points. '
    "Compare the difference between object(s) and find the most closely matched object(s). "
    "Output the thinking process in <think> </think> and the final answer in <answer> </answer> tags. "
    "Inside the thinking, put each part where you look closely at visual details in <look> </look>. "
    "Output the bbox(es) and point(s) inside the interested object(s) in JSON format. "
    "i.e., <think> [your reasoning text] <look> [your visual focus] </look> [more reasoning text] "
    '</think><answer>[{{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}}, '
    '{{"bbox_2d": [225,296,706,786], "point_2d": [302,410]}}]</answer>'
)


def build_prompt(question: str, template: str = LOOK_TO_CONFIRM) -> str:
    """The user text for one question. O(len).

    Examples:
        >>> "<look>" in build_prompt("the red cup")
        True
    """
    return template.format(question=question)


def build_messages(question: str, template: str = LOOK_TO_CONFIRM) -> list[dict[str, Any]]:
    """A conversational prompt (one user turn: the image placeholder, then the text), the shape
    TRL and the Qwen2.5-VL chat template expect. O(len).

    Examples:
        >>> build_messages("the dog")[0]["content"][0]
        {'type': 'image'}
    """
    return [
        {
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": build_prompt(question, template)},
            ],
        }
    ]
