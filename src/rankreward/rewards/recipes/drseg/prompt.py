"""The Look-to-Confirm prompt of the Dr. Seg paper, byte for byte as the released code builds it,
its question preprocessing, and helpers to build chat prompts with it or with your own template.

The released training code (``rl_dataset.py``) sends ``"<image>\\n" + text`` where ``text`` is
`LOOK_TO_CONFIRM` with ``{question}`` = ``problem.lower().strip(".")``; the released evaluation
(``evaluation_drseg.py``) sends the image as its own content item, then the same text with
``text.lower().strip(".\\"?!")``. `build_messages` reproduces both (``stage="train"`` /
``"eval"``): with Qwen2.5-VL's chat template the image item renders where ``<image>`` stood.
"""

from __future__ import annotations

import re
from typing import Any, Literal

__all__ = [
    "LOOK_TO_CONFIRM",
    "PLACEHOLDER_PHRASES",
    "VISIONREASONER_PROMPT",
    "build_messages",
    "build_prompt",
    "placeholder_phrases",
    "preprocess_question",
]

#: The released user-turn text (the pieces of the released code concatenated with no
#: separator, so some sentences run together); ``{question}`` is the preprocessed question.
LOOK_TO_CONFIRM = (
    'Please find "{question}" with bboxs and points.'
    "Compare the difference between object(s) and find the most closely matched object(s)."
    "Output the thinking process inside <think>...</think>."
    "Inside this reasoning, you must include one or more <look>...</look> blocks, enclosing the "
    "parts of the reasoning where you pay special attention to certain visual information."
    " Then, output the final answer inside <answer>...</answer>."
    " Output the bbox(es) and point(s) inside the interested object(s) in JSON format."
    " i.e., <think> [your reasoning text] <look> [your visual focus] </look> [more reasoning "
    "text] </think>"
    '<answer>[{{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}}, '
    '{{"bbox_2d": [225,296,706,786], "point_2d": [302,410]}}]</answer>'
)

#: VisionReasoner's detection/segmentation prompt (``DETECTION_TEMPLATE`` of its released
#: ``vision_reasoner_model.py``), byte for byte, for the baseline and its evaluation protocol.
VISIONREASONER_PROMPT = (
    'Please find "{question}" with bboxs and points.'
    "Compare the difference between object(s) and find the most closely matched object(s)."
    "Output the thinking process in <think> </think> and final answer in <answer> </answer> tags."
    "Output the bbox(es) and point(s) inside the interested object(s) in JSON format."
    "i.e., <think> thinking process here </think>"
    '<answer>[{{"bbox_2d": [10,100,200,210], "point_2d": [30,110]}}, '
    '{{"bbox_2d": [225,296,706,786], "point_2d": [302,410]}}]</answer>'
)

Stage = Literal["train", "eval"]
# What each released script strips from the lower-cased question.
_STRIP = {"train": ".", "eval": '."?!'}
_PLACEHOLDER = re.compile(r"\[([A-Za-z0-9]+(?: [A-Za-z0-9]+)*)\]")


def placeholder_phrases(template: str) -> tuple[str, ...]:
    """The bracketed placeholder phrases of a template's example (``[your reasoning text]``),
    lower-cased, in order: the phrases non_repeat scores 0 when a completion copies them. O(len).

    Examples:
        >>> placeholder_phrases(LOOK_TO_CONFIRM)
        ('your reasoning text', 'your visual focus', 'more reasoning text')
        >>> placeholder_phrases("Answer in <answer>[x1, y1]</answer>; e.g. [Your Thoughts Here]")
        ('your thoughts here',)
    """
    out: list[str] = []
    for m in _PLACEHOLDER.finditer(template):
        phrase = m.group(1).lower()
        if any(c.isalpha() for c in phrase) and len(phrase.split()) > 1 and phrase not in out:
            out.append(phrase)
    return tuple(out)


#: The phrases of the released prompt's example that a policy must not copy.
PLACEHOLDER_PHRASES = placeholder_phrases(LOOK_TO_CONFIRM)


def preprocess_question(question: str, stage: Stage = "train") -> str:
    """The released preprocessing: ``lower().strip(".")`` for training, ``lower().strip('."?!')``
    for evaluation. O(len).

    Examples:
        >>> preprocess_question("The Red Cup.")
        'the red cup'
        >>> preprocess_question('"Where is it?"', "eval")
        'where is it'
    """
    if stage not in _STRIP:
        raise ValueError(f"stage must be 'train' or 'eval', got {stage!r}")
    return question.lower().strip(_STRIP[stage])


def build_prompt(
    question: str,
    template: str = LOOK_TO_CONFIRM,
    *,
    stage: Stage = "train",
    preprocess: bool = True,
) -> str:
    """The user text for one question: the template with the (preprocessed) question. O(len).

    Examples:
        >>> build_prompt("The red cup.")[:38]
        'Please find "the red cup" with bboxs a'
    """
    q = preprocess_question(question, stage) if preprocess else question
    return template.format(question=q)


def build_messages(
    question: str,
    template: str = LOOK_TO_CONFIRM,
    *,
    stage: Stage = "train",
    preprocess: bool = True,
) -> list[dict[str, Any]]:
    """A conversational prompt (one user turn: the image item, then the text), the shape TRL and
    the Qwen2.5-VL chat template expect. ``stage="train"`` starts the text with the newline the
    released training prompt has after ``<image>``; ``"eval"`` has none. O(len).

    Examples:
        >>> msg = build_messages("the dog")[0]
        >>> msg["content"][0], msg["content"][1]["text"][:20]
        ({'type': 'image'}, '\\nPlease find "the do')
    """
    text = build_prompt(question, template, stage=stage, preprocess=preprocess)
    if stage == "train":
        text = "\n" + text
    return [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]
