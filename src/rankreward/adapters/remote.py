"""A thin client of the reward service (``rankreward serve``, `rankreward.serve`) for every
trainer: TRL and ms-swift reward functions, verl's and EasyR1's batched ``compute_score``.

One HTTP call per batch (JSON, standard library only); the columns the service's reward reads
(``GET /info``) are sent with it; the breakdown comes back for logging (``last_breakdown``).
Every call carries a fresh ``request_id``, and a retry after a timeout or a dropped connection
sends the same id, so the service never stages a batch twice. Wrong user input comes back as
the service's 422 message, raised here as ``ValueError``.

Example:
    ```python
    # a service running on the same machine
    remote = RemoteReward("http://127.0.0.1:8000")
    trainer = GRPOTrainer(..., reward_funcs=[remote],
                          callbacks=[RemoteCommitCallback(remote)])  # or --commit-every there
    ```
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..segment.transport import mask_counts, pack_images
from ..text import completion_text

__all__ = ["RemoteCommitCallback", "RemoteReward"]


class _SameHostRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same scheme, host and port: the token in the
    ``Authorization`` header never goes to another host (urllib's default forwards it)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> Any:  # fmt: skip
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            raise ValueError(f"{req.full_url}: refused a redirect ({code}) to {newurl}: the "
                             "service's token is never sent to another host")  # fmt: skip
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class RemoteReward:
    """A reward function scoring through a rankreward service. Thread-safe (one request per
    call).

    Args:
        url: the service's base URL (``http://host:port``).
        token: the service's token (default: ``RANKREWARD_SERVE_TOKEN``); sent as a bearer
            header.
        timeout: seconds per attempt.
        retries: further attempts after a connection error or timeout (same ``request_id``).
        stage: stage the scored values (``False`` for validation).

    Complexity: one round trip per call, plus the service's scoring.

    Examples:
        >>> RemoteReward("http://127.0.0.1:9", retries=0, timeout=0.5).url
        'http://127.0.0.1:9'
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        stage: bool = True,
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token if token is not None else os.environ.get("RANKREWARD_SERVE_TOKEN")
        self.timeout, self.retries, self.stage = timeout, retries, stage
        self._info: dict[str, Any] | None = None
        self.last_breakdown: dict[str, Any] = {}
        self.__name__ = "remote_reward"  # TRL logs reward functions by __name__

    # ------------------------------------------------------------------ transport
    def request(self, method: str, path: str, payload: Any = None) -> Any:
        """One JSON call; ``ValueError`` with the service's message for a refused request,
        ``ConnectionError`` when the service cannot be reached after the retries."""
        data = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        last: Exception | None = None
        opener = urllib.request.build_opener(_SameHostRedirects)
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
            try:
                with opener.open(req, timeout=self.timeout) as response:
                    body = response.read()
                    kind = response.headers.get("content-type", "")
                    return json.loads(body) if "json" in kind else body.decode()
            except urllib.error.HTTPError as e:
                try:
                    message = json.loads(e.read()).get("error", "")
                except ValueError:
                    message = ""
                raise ValueError(f"{self.url}{path}: HTTP {e.code}: {message}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
                last = e
                if attempt < self.retries:
                    time.sleep(min(2.0**attempt, 10.0) * 0.25)
        raise ConnectionError(
            f"{self.url}{path}: no answer after {self.retries + 1} tries ({last})"
        )

    @property
    def info(self) -> dict[str, Any]:
        """The service's ``GET /info``: its ``parts``, the per-sample ``components`` that
        `score` returns, the columns its reward reads."""
        if self._info is None:
            self._info = self.request("GET", "/info")
        return self._info

    # ------------------------------------------------------------------ scoring
    def score(
        self,
        completions: Sequence[Any],
        ground_truth: Sequence[Any],
        columns: dict[str, Sequence[Any]] | None = None,
        *,
        stage: bool | None = None,
    ) -> dict[str, Any]:
        """The service's breakdown of a batch, in the keys a local `ComponentReward.score`
        returns: ``reward`` and each component as float64 arrays (NaN where it does not
        apply), ``problems``, plus the service's ``step``. ``columns``: per-sample columns
        (image sizes, task keys; an ``image`` column goes as one PNG per distinct image, or
        as paths under the service's ``--image-root``). ``ValueError`` naming the URL when the answer is not a
        breakdown of this batch (a proxy's page, another service)."""
        texts = [c if type(c) is str else completion_text(c) for c in completions]
        # a mask's ground truth travels as RLE, each distinct image once (the service segments)
        truths = [mask_counts(g) if len(getattr(g, "shape", ())) == 2 else g for g in ground_truth]
        payload: dict[str, Any] = {
            "completions": texts,
            "ground_truth": truths,
            "stage": self.stage if stage is None else stage,
            "request_id": uuid.uuid4().hex,
        }
        for key, values in (columns or {}).items():
            if key in ("image", "images"):
                pictures = [v[0] if key == "images" and isinstance(v, (list, tuple)) else v
                            for v in values]  # fmt: skip
                payload["image"], table = pack_images(pictures)
                if table:
                    payload["images_b64"] = table
                continue
            payload[key] = [v.tolist() if hasattr(v, "tolist") else v for v in values]
        out = self._breakdown(self.request("POST", "/score", payload), len(texts))
        self.last_breakdown = out
        return out

    def _breakdown(self, answer: Any, n: int) -> dict[str, Any]:
        """``/score``'s JSON (``rewards``, ``components``: lists, null for n/a) as a local
        breakdown; refuses anything else, naming the URL."""

        def column(values: Any, what: str) -> np.ndarray:
            if not isinstance(values, list) or len(values) != n:
                raise ValueError(f"{self.url}/score answered {what} that is not a list of {n} "
                                 f"numbers: not a rankreward service's breakdown")  # fmt: skip
            try:
                return np.array([np.nan if v is None else v for v in values], np.float64)
            except (TypeError, ValueError):
                raise ValueError(f"{self.url}/score answered non-numbers in {what}") from None

        if not isinstance(answer, dict) or not isinstance(answer.get("components"), dict):
            raise ValueError(f"{self.url}/score did not answer a rankreward breakdown "
                             f"(got {type(answer).__name__})")  # fmt: skip
        out: dict[str, Any] = {"reward": column(answer.get("rewards"), "'rewards'")}
        for name, values in answer["components"].items():
            out[str(name)] = column(values, f"component {name!r}")
        problems = answer.get("problems")
        out["problems"] = problems if isinstance(problems, list) else [[] for _ in range(n)]
        out["step"] = answer.get("step")
        return out

    def __call__(
        self, completions: Sequence[Any], ground_truth: Sequence[Any] | None = None, **kwargs: Any
    ) -> list[float | None]:
        """TRL's (and ms-swift's) reward-function form: one float per completion, ``None``
        where no component applies. The columns the service reads come from ``kwargs``; each
        component's batch mean goes to TRL's ``log_metric`` when given."""
        key = self.info["ground_truth_key"]
        if ground_truth is None:
            ground_truth = kwargs.get(key)
        if ground_truth is None:
            raise TypeError(f"pass ground_truth=... (or a {key!r} column)")
        missing = [c for c in self.info["columns"] if kwargs.get(c) is None]
        if missing:
            raise TypeError(f"the service's reward needs the columns {missing}")
        columns = {c: kwargs[c] for c in self.info["columns"]}
        out = self.score(completions, ground_truth, columns)
        log_metric = kwargs.get("log_metric")
        if log_metric is not None:
            for name in self.info["components"]:
                values = out.get(name)
                if values is not None and not np.isnan(values).all():
                    log_metric(f"rewards/{name}", float(np.nanmean(values)))
        return [None if np.isnan(v) else float(v) for v in out["reward"]]

    def verl_batch(
        self,
        data_sources: Sequence[Any],
        solution_strs: Sequence[str],
        ground_truths: Sequence[Any],
        extra_infos: Sequence[Any] | None = None,
        **_: Any,
    ) -> list[dict[str, float]]:
        """verl's / EasyR1's batched ``compute_score`` form: one ``{"score": total, component:
        value}`` dict per sample (NaN where a component does not apply); the columns the
        service reads come from ``extra_infos``."""
        extra = list(extra_infos) if extra_infos is not None else [{}] * len(solution_strs)
        columns = {c: [(e or {}).get(c) for e in extra] for c in self.info["columns"]}
        out = self.score(solution_strs, ground_truths, columns)
        names = [n for n in self.info["components"] if n in out]
        rows = []
        for k, total in enumerate(out["reward"]):
            if np.isnan(total):
                raise ValueError(f"no component of the reward applies to sample {k}: this "
                                 "trainer cannot leave a sample out of the advantage")  # fmt: skip
            row = {"score": float(total)}
            row.update({n: float(out[n][k]) for n in names})
            rows.append(row)
        return rows

    def commit(self) -> int:
        """``POST /commit``: one training step done. Returns how many values were appended."""
        return int(self.request("POST", "/commit")["committed"])


def _callback_base() -> type:
    try:
        from transformers import TrainerCallback
    except ImportError:  # pragma: no cover - the trl extra brings transformers
        return object
    return TrainerCallback


class RemoteCommitCallback(_callback_base()):  # type: ignore[misc]
    """Commits the service's windows once per optimizer step (main process only: one step,
    one commit, however many ranks score). Not needed when the service runs with
    ``--commit-every``.

    Example:
        ```python
        trainer = GRPOTrainer(..., reward_funcs=[remote], callbacks=[RemoteCommitCallback(remote)])
        ```
    """

    def __init__(self, remote: RemoteReward) -> None:
        self.remote = remote

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        if getattr(state, "is_world_process_zero", True):
            self.remote.commit()
        return control
