"""Completion text helpers that no recipe owns: the text of a completion in any trainer's
message form (`completion_text`), the ``<think>...</think><answer>...</answer>`` structure check
(`structure_ok`) and the first answer's content (`extract_answer`). Every recipe reads its
completions through these, so a trainer's message form is handled in one place."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "ASSISTANT_MARKER",
    "all_between",
    "between",
    "completion_text",
    "extract_answer",
    "fenced_blocks",
    "split_response",
    "structure_ok",
]

_THINK_TO_ANSWER = re.compile(r"</think>\s*<answer>")


def completion_text(completion: Any) -> str:
    """The text of a completion given as a string or as chat messages (TRL's conversational
    format): the content of the last assistant message, text parts joined. O(len).

    Examples:
        >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "hi"}]}])
        'hi'
    """
    if isinstance(completion, str):
        return completion
    # TRL's usual form, one assistant message of text, without the slower ABC checks below
    if type(completion) is list and len(completion) == 1 and type(completion[0]) is dict:
        content = completion[0].get("content", "")
        if completion[0].get("role", "assistant") == "assistant" and type(content) is str:
            return content
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], Mapping):
        messages = [m for m in completion if m.get("role", "assistant") == "assistant"]
        if not messages:
            raise ValueError("the completion has no assistant message")
        content = messages[-1].get("content", "")
        if isinstance(content, str):
            return content
        if isinstance(content, Sequence):
            return "".join(
                p.get("text", "") if isinstance(p, Mapping) else str(p)
                for p in content
                if not isinstance(p, Mapping) or p.get("type", "text") == "text"
            )
    raise TypeError(
        f"a completion must be a str or a list of chat messages, got {type(completion).__name__}"
    )


def structure_ok(text: str) -> bool:
    """Whether ``text`` fully matches ``<think>.*?</think>\\s*<answer>.*?</answer>`` (DOTALL).

    Linear time: a full match exists iff the text starts with ``<think>``, ends with
    ``</answer>`` and the earliest ``</think>\\s*<answer>`` after the opening tag ends before
    the closing one.

    Examples:
        >>> structure_ok("<think>a</think>\\n<answer>[]</answer>")
        True
        >>> structure_ok("<think>a</think><answer>[]</answer> trailing")
        False
    """
    if not (text.startswith("<think>") and text.endswith("</answer>")):
        return False
    m = _THINK_TO_ANSWER.search(text, len("<think>"))
    return m is not None and m.end() <= len(text) - len("</answer>")


def extract_answer(text: str) -> tuple[str, tuple[int, int]] | None:
    """Content of the first ``<answer>...</answer>`` with surrounding whitespace stripped, as the
    paper's ``re.search(r'<answer>\\s*(.*?)\\s*</answer>', text, re.DOTALL)`` returns it.

    Examples:
        >>> extract_answer("x <answer> [1] </answer> <answer>2</answer>")
        ('[1]', (11, 14))
    """
    start = text.find("<answer>")
    if start < 0:
        return None
    begin = start + len("<answer>")
    end = text.find("</answer>", begin)
    if end < 0:
        return None
    raw = text[begin:end]
    lstripped = raw.lstrip()
    content = lstripped.rstrip()
    s = begin + (len(raw) - len(lstripped))
    return content, (s, s + len(content))


def between(
    text: str, open_tag: str, close_tag: str, *, newlines: bool = True
) -> tuple[int, int] | None:
    """The span of the group of ``re.search(open(.*?)close, text, re.DOTALL)`` (without
    ``re.DOTALL`` when ``newlines`` is False: the group holds no newline), or ``None``; in
    linear time where the regex is quadratic on a text that repeats ``open`` unclosed (a
    policy looping on a tag). O(len(text)).

    Examples:
        >>> text = "a <answer>x\\ny</answer> <answer>z</answer>"
        >>> [text[s:e] for s, e in [between(text, "<answer>", "</answer>")]]
        ['x\\ny']
        >>> s, e = between(text, "<answer>", "</answer>", newlines=False); text[s:e]
        'z'
        >>> between("<answer>" * 1000, "<answer>", "</answer>") is None
        True
    """
    if not open_tag or not close_tag:
        raise ValueError("open_tag and close_tag must be non-empty")
    close = newline = -1  # the first close tag / newline at or after the group's start
    p = text.find(open_tag)
    while p >= 0:
        q = p + len(open_tag)
        if close < q:
            close = text.find(close_tag, q)
        if close < 0:
            return None  # no later opening tag has a close after it either
        if newlines:
            return q, close
        if newline < q:
            newline = text.find("\n", q)
        if newline < 0 or newline >= close:
            return q, close
        p = text.find(open_tag, p + 1)
    return None


def all_between(text: str, open_tag: str, close_tag: str) -> list[str]:
    """``re.findall(open(.*?)close, text, re.DOTALL)`` for literal tags, in linear time.
    O(len(text)).

    Examples:
        >>> all_between("<a>1</a> <a>2</a> <a>3", "<a>", "</a>")
        ['1', '2']
    """
    if not open_tag or not close_tag:
        raise ValueError("open_tag and close_tag must be non-empty")
    found = []
    p = text.find(open_tag)
    while p >= 0:
        q = p + len(open_tag)
        close = text.find(close_tag, q)
        if close < 0:
            break
        found.append(text[q:close])
        p = text.find(open_tag, close + len(close_tag))
    return found


def fenced_blocks(text: str) -> list[str]:
    """``re.findall(r"```(?:json)?(.*?)```", text, re.DOTALL)``: the contents of Markdown code
    fences, a leading ``json`` language tag left out, in linear time. O(len(text)).

    Examples:
        >>> fenced_blocks('```json\\n[1]\\n``` and ```[2]```')
        ['\\n[1]\\n', '[2]']
    """
    # the optional group prefers to consume "json", which holds no backtick, so the block ends
    # at the same closing fence either way
    return [b[4:] if b.startswith("json") else b for b in all_between(text, "```", "```")]


#: Where Qwen-style chat templates start the generated turn.
ASSISTANT_MARKER = "<|im_start|>assistant\n"
#: Special tokens that may trail a decoded response.
_TRAILING = ("<|im_end|>", "<|endoftext|>", "</s>", "<|eot_id|>")


def split_response(query: str, prompt: str, marker: str = ASSISTANT_MARKER) -> str:
    """The response part of an OpenRLHF ``query`` (decoded prompt + response tokens).

    The decoded prompt need not equal ``prompt`` (image placeholders expand to many image
    tokens), so the prompt's k assistant markers are counted and the response starts after
    the query's k-th marker. Without markers, an exact ``prompt`` prefix is removed. Trailing
    end-of-turn tokens are dropped. O(len(query)).

    Examples:
        >>> split_response("<|im_start|>user\\n<|image_pad|><|image_pad|>hi<|im_end|>\\n"
        ...                "<|im_start|>assistant\\n<think>x</think><|im_end|>",
        ...                "<|im_start|>user\\n<|image_pad|>hi<|im_end|>\\n<|im_start|>assistant\\n")
        '<think>x</think>'
    """
    k = prompt.count(marker) if marker else 0
    start = 0
    if k:
        for _ in range(k):
            found = query.find(marker, start)
            if found < 0:
                start = -1
                break
            start = found + len(marker)
    if not k or start < 0:
        start = len(prompt) if query.startswith(prompt) else 0
    text = query[start:]
    stripped = True
    while stripped:
        stripped = False
        text = text.rstrip()
        for tok in _TRAILING:
            if text.endswith(tok):
                text, stripped = text[: -len(tok)], True
    return text
