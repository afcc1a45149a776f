"""The reward service: one process owns a reward's windows and scores for every trainer, worker
and node over HTTP (``rankreward serve``).

Why a service: a trainer that is neither ``torch.distributed`` nor Ray (several jobs, a
CPU-heavy reward moved off the GPU nodes, OpenRLHF's ``--remote_rm_url``) still gets one
window per recipe term, with per-step semantics, checkpoints and resume. The server stack is
Starlette on uvicorn: maintained, asynchronous, small (no validation framework: every request
is checked here, with the library's own errors), and the stack OpenRLHF's own reward server
uses (FastAPI is Starlette plus validation).

Endpoints (JSON in and out, never pickle):

- ``POST /score``: ``{"completions": [...], "ground_truth": [...], <column>: [...], "stage":
  true, "request_id": "..."}`` -> ``{"rewards": [float | null], "components": {name:
  [...]}, "problems": [[...]], "step": n}``. ``stage: false`` ranks without staging
  (validation); a repeated ``request_id`` returns the first answer without staging again (a
  client retrying after a timeout never double-stages).
- ``POST /openrlhf``: OpenRLHF's remote reward protocol (``{"query", "prompts", "labels"}`` ->
  ``{"rewards", "scores", "extra_logs"}``, as its ``serve_rm.py`` answers), so
  ``--remote_rm_url http://host:port/openrlhf`` works with no glue.
- ``POST /commit`` (one training step done), ``GET /state`` (``?full=1``: every window's
  values), ``POST /save``, ``GET /info`` (the reward's components and columns), ``GET
  /healthz`` and ``GET /metrics`` (Prometheus text).

Safe by default: it binds 127.0.0.1; any other address needs a token (``--token-file`` or
``RANKREWARD_SERVE_TOKEN``, at least 16 characters, compared in constant time), sent as
``Authorization: Bearer <token>`` (or ``?token=`` for clients that cannot set headers, such as
OpenRLHF's). Without the token a request can reach ``/healthz`` only. Bodies over
``max_body_bytes`` get 413, batches over ``max_rows`` 422, malformed JSON 400, wrong user input
(a bad ground truth, a missing column) 422 with the library's message; model output never fails
a request (the reward's policy, docs/reward.md).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import hmac
import ipaddress
import json
import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .normalize.state import latest_state, step_path
from .normalize.windows import Windows

__all__ = ["RewardService", "build_app", "main", "serve"]

#: The token's environment variable (``--token-file`` takes precedence).
TOKEN_ENV = "RANKREWARD_SERVE_TOKEN"
#: Shortest accepted token: a guessable one is no protection.
MIN_TOKEN_CHARS = 16
_LATENCY_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, math.inf)


class RequestError(ValueError):
    """A request the service refuses: ``status`` is the HTTP status, the message says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _check_writable(folder: Path) -> None:
    """``ValueError`` naming ``folder`` unless state files can be written there (created if
    missing): a bad ``--state-dir`` fails at start, not at the first commit. O(1)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / f".rankreward-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise ValueError(f"--state-dir {folder}: cannot write state files there "
                         f"({e.strerror or e})") from None  # fmt: skip


def _json_floats(values: Any) -> list[float | None]:
    """Per-sample floats for JSON: NaN (a term that does not apply) becomes null."""
    return [None if not math.isfinite(v) else v for v in np.asarray(values, np.float64).tolist()]


class RewardService:
    """The service's state: one reward, its windows, counters; thread-safe. The HTTP app
    (`build_app`) and tests call these methods.

    Args:
        reward: a `rankreward.rewards.ComponentReward` (any preset, `DrSegReward` too); the
            service uses its windows (any `Windows` host) and sets how they count steps.
        name: the preset's name (logged keys are ``<name>_<component>`` on the OpenRLHF path).
        state_dir: per-step state files ``step_N.npz`` (written by the windows): the newest
            is loaded at start, a file is written at every commit and at shutdown; a folder
            that cannot be written fails here, not at the first commit.
        commit_every: commit every this many staged samples (else ``POST /commit``).
        max_rows: the most completions one request may carry.

    Examples:
        >>> from rankreward.rewards import preset
        >>> service = RewardService(preset("perception-r1"), name="perception-r1")
        >>> out = service.score({"completions": ["<|box_start|>(0,0),(10,10)<|box_end|>"],
        ...                      "ground_truth": ["[0, 0, 10, 20]"]})
        >>> out["rewards"], out["components"]["grounding"]
        ([1.25], [0.25])
    """

    def __init__(
        self,
        reward: Any,
        *,
        name: str = "reward",
        state_dir: str | os.PathLike[str] | None = None,
        commit_every: int | None = None,
        max_rows: int = 16384,
        remember: int = 4096,
    ) -> None:
        if not isinstance(reward.windows, Windows):
            raise TypeError("the service needs a reward whose windows keep the Windows protocol")
        if max_rows < 1:
            raise ValueError(f"max_rows must be >= 1, got {max_rows}")
        self.reward, self.name, self.max_rows = reward, name, max_rows
        self.state_dir = None if state_dir is None else Path(state_dir)
        self.commit_every = commit_every
        resume, step = (None, 0)
        template = None
        if self.state_dir is not None:
            _check_writable(self.state_dir)
            resume, step = latest_state(self.state_dir)
            template = str(self.state_dir / "step_{step}.npz")
        windows = reward.windows
        windows.configure_steps(commit_every=commit_every, state_file=template)
        if resume is not None:
            windows.load(resume)
            if windows.commits < step:  # a file of a release that did not count every commit
                windows.configure_steps(start_step=step)
        self.resumed_from = resume
        self._lock = threading.RLock()
        self._answers: collections.OrderedDict[str, dict] = collections.OrderedDict()
        self._remember = remember
        self.requests: collections.Counter[tuple[str, int]] = collections.Counter()
        self.rows = 0
        self.latency: dict[str, list[float]] = {}

    # ------------------------------------------------------------------ scoring
    def _batch(self, payload: Mapping[str, Any], texts_key: str) -> int:
        texts = payload.get(texts_key)
        if not isinstance(texts, list):
            raise RequestError(422, f"{texts_key!r} must be a list, got {type(texts).__name__}")
        if len(texts) > self.max_rows:
            raise RequestError(
                422, f"{len(texts)} rows is over this service's limit of {self.max_rows} per "
                "request (--max-rows): split the batch"
            )  # fmt: skip
        return len(texts)

    def score(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /score``. O(the reward's cost)."""
        if not isinstance(payload, Mapping):
            raise RequestError(422, "the body must be a JSON object")
        request_id = payload.get("request_id")
        if request_id is not None:
            with self._lock:
                if str(request_id) in self._answers:
                    return self._answers[str(request_id)]
        n = self._batch(payload, "completions")
        gt_key = self.reward.ground_truth_key
        gts = payload.get("ground_truth", payload.get(gt_key))
        if not isinstance(gts, list):
            raise RequestError(422, f"'ground_truth' (or {gt_key!r}) must be a list of {n}")
        stage = payload.get("stage", True)
        if not isinstance(stage, bool):
            raise RequestError(422, f"'stage' must be true or false, got {stage!r}")
        skip = {"completions", "ground_truth", gt_key, "stage", "request_id"}
        columns = {k: v for k, v in payload.items() if k not in skip}
        for key, column in columns.items():
            if not isinstance(column, list) or len(column) != n:
                raise RequestError(422, f"column {key!r} must be a list of {n} values")
        with self._lock:  # the id check and the staging together: a retry never stages twice
            if request_id is not None and str(request_id) in self._answers:
                return self._answers[str(request_id)]
            out = self.reward.score(payload["completions"], gts, self.reward.tasks_from(columns),
                                    context=columns, stage=stage)  # fmt: skip
            answer = {
                "rewards": _json_floats(out["reward"]),
                "components": {c: _json_floats(out[c]) for c in self.reward.logged_keys},
                "problems": out["problems"],
                "step": self.step_now(),
            }
            self.rows += n
            if request_id is not None:
                self._answers[str(request_id)] = answer
                while len(self._answers) > self._remember:
                    self._answers.popitem(last=False)
            return answer

    def score_openrlhf(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /openrlhf``: OpenRLHF's remote reward protocol. O(the reward's cost)."""
        from .adapters.openrlhf import split_response
        from .rewards.rows import score_rows

        if not isinstance(payload, Mapping):
            raise RequestError(422, "the body must be a JSON object")
        n = self._batch(payload, "query")
        prompts, labels = payload.get("prompts"), payload.get("labels")
        if not isinstance(prompts, list) or not isinstance(labels, list):
            raise RequestError(422, "'prompts' and 'labels' must be lists")
        if not (len(prompts) == len(labels) == n):
            raise RequestError(422, f"{n} queries, {len(prompts)} prompts, {len(labels)} labels")
        texts = [
            split_response(str(q), str(p)) for q, p in zip(payload["query"], prompts, strict=True)
        ]
        with self._lock:
            rows = score_rows(self.reward, texts, labels)
            self.rows += n
        rewards = [row.pop("score") for row in rows]
        top = self.reward.max_reward or 1.0
        prefix = self.name.replace("-", "_")
        logs = {
            f"{prefix}_{k}": _json_floats([row[k] for row in rows])
            for k in (rows[0] if rows else {})
        }
        return {"rewards": rewards, "scores": [r / top for r in rewards], "extra_logs": logs}

    # ------------------------------------------------------------------ steps and state
    def step_now(self) -> int:
        """The step: the windows' commit count (the one step counter). O(1)."""
        return int(self.reward.windows.commits)

    def commit(self) -> dict[str, Any]:
        """``POST /commit``: append every window's staged values (one training step); with a
        state dir, the windows write ``step_N.npz`` first (a failed write commits nothing,
        so a retry commits once). O(windows x n)."""
        with self._lock:
            if self.commit_every is not None:
                raise RequestError(409, "this service commits every --commit-every samples itself")
            committed = self.reward.commit()
            return {"committed": committed, "step": self.step_now()}

    def save(self) -> dict[str, Any]:
        """``POST /save`` and shutdown: the windows (staged values and counts included) to
        ``step_N.npz`` of the current step. O(windows x n)."""
        if self.state_dir is None:
            raise RequestError(409, "no --state-dir: nothing to save to")
        with self._lock:
            path = step_path(str(self.state_dir / "step_{step}.npz"), self.step_now())
            self.reward.windows.save(path)
            return {"path": str(path), "step": self.step_now()}

    def state(self, full: bool = False) -> dict[str, Any]:
        """``GET /state``: the step, the pending samples and each window's size (``full``:
        its values, staged ones apart). O(windows), O(windows x n) with ``full``."""
        with self._lock:
            windows = self.reward.windows
            out: dict[str, Any] = {"step": self.step_now(), "pending": windows.pending,
                                   "owner": windows.owner, "windows": {}}  # fmt: skip
            full_state = windows.state_dict() if full else {}
            for key, (size, staged) in windows.sizes().items():
                entry: dict[str, Any] = {"size": size, "staged": staged}
                if full:
                    state = full_state[key]
                    entry["values"] = np.asarray(state["values"], np.float64).tolist()
                    entry["staged_values"] = np.asarray(state["staged"], np.float64).tolist()
                out["windows"][key] = entry
            return out

    def info(self) -> dict[str, Any]:
        """``GET /info``: what the reward is and which columns a request must carry."""
        reward = self.reward
        columns = [k.rstrip("?") for k in getattr(reward.recipe, "context", ())]
        if reward.task_key:
            columns.append(reward.task_key)
        return {"name": self.name, "components": reward.parts, "logged": reward.logged_keys,
                "columns": columns, "ground_truth_key": reward.ground_truth_key,
                "max_reward": reward.max_reward, "commit_every": self.commit_every}  # fmt: skip

    def observe(self, path: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(path, status)] += 1
            self.latency.setdefault(path, []).append(seconds)
            if len(self.latency[path]) > 100_000:
                del self.latency[path][:50_000]

    def metrics_text(self) -> str:
        """``GET /metrics``: Prometheus text (requests, rows, latency, window sizes)."""
        with self._lock:
            lines = ["# TYPE rankreward_requests_total counter"]
            for (path, status), n in sorted(self.requests.items()):
                lines.append(f'rankreward_requests_total{{path="{path}",status="{status}"}} {n}')
            lines += ["# TYPE rankreward_rows_total counter", f"rankreward_rows_total {self.rows}",
                      "# TYPE rankreward_request_seconds histogram"]  # fmt: skip
            for path, seconds in sorted(self.latency.items()):
                values = np.asarray(seconds)
                for bound in _LATENCY_BUCKETS:
                    le = "+Inf" if math.isinf(bound) else f"{bound}"
                    count = int((values <= bound).sum())
                    lines.append(
                        f'rankreward_request_seconds_bucket{{path="{path}",le="{le}"}} {count}'
                    )
                lines.append(f'rankreward_request_seconds_sum{{path="{path}"}} {values.sum():.6f}')
                lines.append(f'rankreward_request_seconds_count{{path="{path}"}} {len(values)}')
            lines.append("# TYPE rankreward_window_values gauge")
            for key, (size, _) in self.reward.windows.sizes().items():
                lines.append(f'rankreward_window_values{{window="{key}"}} {size}')
            lines += ["# TYPE rankreward_step gauge", f"rankreward_step {self.step_now()}"]
            return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- HTTP
def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(service: RewardService, *, token: str | None = None,
              max_body_bytes: int = 64 << 20) -> Any:  # fmt: skip
    """The Starlette app serving ``service`` (see the module docs). O(1).

    Examples:
        >>> from rankreward.rewards import preset
        >>> app = build_app(RewardService(preset("seg-zero"), name="seg-zero"))
        >>> sorted(r.path for r in app.routes)[:3]
        ['/commit', '/healthz', '/info']
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    secret = None if token is None else token.encode()

    def authorized(request: Request) -> bool:
        if secret is None:
            return True
        given = request.headers.get("authorization", "")
        offered = (
            given[7:]
            if given.lower().startswith("bearer ")
            else request.query_params.get("token", "")
        )
        return hmac.compare_digest(offered.encode(), secret)

    async def body(request: Request) -> Any:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            raise RequestError(413, f"the body ({declared} bytes) is over the limit of "
                                    f"{max_body_bytes} bytes (--max-body-bytes)")  # fmt: skip
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body_bytes:
                raise RequestError(413, f"the body is over the limit of {max_body_bytes} bytes "
                                        "(--max-body-bytes)")  # fmt: skip
            chunks.append(chunk)
        try:
            return json.loads(b"".join(chunks))
        except (ValueError, RecursionError) as e:
            raise RequestError(400, f"the body is not JSON: {e}") from None

    def endpoint(handler: Any, *, needs_body: bool = False, auth: bool = True) -> Any:
        async def run(request: Request) -> Any:
            start = time.perf_counter()
            status = 200
            try:
                if auth and not authorized(request):
                    status = 401 if "authorization" not in request.headers and \
                        "token" not in request.query_params else 403  # fmt: skip
                    return JSONResponse({"error": "a valid token is required"}, status)
                args = [await body(request)] if needs_body else []
                result = await run_in_threadpool(handler, request, *args)
                if isinstance(result, str):
                    return PlainTextResponse(result)
                return JSONResponse(result)
            except RequestError as e:
                status = e.status
                return JSONResponse({"error": str(e)}, status)
            except (ValueError, TypeError) as e:  # the library's errors for wrong user input
                status = 422
                return JSONResponse({"error": f"{type(e).__name__}: {e}"}, status)
            finally:
                service.observe(request.url.path, status, time.perf_counter() - start)

        return run

    routes = [
        Route("/score", endpoint(lambda r, p: service.score(p), needs_body=True), methods=["POST"]),
        Route("/openrlhf", endpoint(lambda r, p: service.score_openrlhf(p), needs_body=True),
              methods=["POST"]),
        Route("/commit", endpoint(lambda r: service.commit()), methods=["POST"]),
        Route("/save", endpoint(lambda r: service.save()), methods=["POST"]),
        Route("/state", endpoint(lambda r: service.state(r.query_params.get("full") == "1"))),
        Route("/info", endpoint(lambda r: service.info())),
        Route("/metrics", endpoint(lambda r: service.metrics_text())),
        Route("/healthz", endpoint(lambda r: {"ok": True, "step": service.step_now()}, auth=False)),
    ]  # fmt: skip

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        # uvicorn runs this after the requests in flight finished (SIGINT/SIGTERM), then
        # re-raises the signal: the windows are saved here, not after uvicorn.run returns
        if service.state_dir is not None:
            await run_in_threadpool(service.save)

    return Starlette(routes=routes, lifespan=lifespan)


def read_token(token_file: str | os.PathLike[str] | None, env: Mapping[str, str]) -> str | None:
    """The token from ``token_file`` (its first line) or ``RANKREWARD_SERVE_TOKEN``; ``None``
    when neither is given; ``ValueError`` naming the source when shorter than 16 characters.

    Examples:
        >>> read_token(None, {"RANKREWARD_SERVE_TOKEN": "s3cret-s3cret-s3cret"})
        's3cret-s3cret-s3cret'
    """
    if token_file is not None:
        try:
            token, where = Path(token_file).read_text(encoding="utf-8").strip(), str(token_file)
        except OSError as e:
            raise ValueError(
                f"--token-file {token_file}: cannot read ({e.strerror or e})"
            ) from None
    elif env.get(TOKEN_ENV):
        token, where = env[TOKEN_ENV].strip(), TOKEN_ENV
    else:
        return None
    if len(token) < MIN_TOKEN_CHARS:
        raise ValueError(f"the token in {where} has {len(token)} characters; use at least "
                         f"{MIN_TOKEN_CHARS} (for example: python -c 'import secrets; "
                         "print(secrets.token_urlsafe(32))')")  # fmt: skip
    return token


def serve(service: RewardService, host: str = "127.0.0.1", port: int = 8000, *,
          token: str | None = None, max_body_bytes: int = 64 << 20, log_level: str = "info") -> None:  # fmt: skip
    """Run the service until SIGINT/SIGTERM (uvicorn finishes the requests in flight; the app's
    shutdown saves the windows when there is a state dir). A non-loopback ``host`` needs a
    ``token``.

    Example:
        ```python
        # embedding the service in your own launcher
        service = RewardService(preset("seg-zero", ranked=True), name="seg-zero",
                                state_dir="runs/reward-state", commit_every=1024)
        serve(service, "0.0.0.0", 8000, token=read_token("reward.token", os.environ))
        ```
    """
    import uvicorn

    if not _is_loopback(host) and token is None:
        raise ValueError(
            f"binding {host} (not loopback) needs a token: --token-file FILE or {TOKEN_ENV}"
        )
    app = build_app(service, token=token, max_body_bytes=max_body_bytes)
    uvicorn.run(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=30)


def main(argv: Sequence[str] | None = None) -> int:
    """``rankreward serve``: see the module docs and docs/training.md ("A reward service").

    Example:
        ```python
        main(["--preset", "seg-zero", "--ranked", "--state-dir", "runs/reward-state"])
        ```
    """
    from .arguments import parse_option
    from .rewards import PRESETS, preset

    p = argparse.ArgumentParser(prog="rankreward serve", description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--ranked", action=argparse.BooleanOptionalAction, default=None,
                   help="ranked or raw (default: the recipe's own choice)")  # fmt: skip
    p.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                   help="a preset option (JSON value or text), repeatable: --option method=od_ap")  # fmt: skip
    p.add_argument("--task-key", help="the column whose values get their own windows")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token-file", help=f"a file holding the token (else ${TOKEN_ENV})")
    p.add_argument("--state-dir", help="per-step state files; the newest is resumed")
    p.add_argument("--commit-every", type=int, help="commit every N samples (else POST /commit)")
    p.add_argument("--max-rows", type=int, default=16384, help="completions per request")
    p.add_argument("--max-body-bytes", type=int, default=64 << 20)
    p.add_argument("--log-level", default="info")
    args = p.parse_args(argv)
    if args.commit_every is not None and args.commit_every < 1:
        p.error("--commit-every must be >= 1")
    try:
        token = read_token(args.token_file, os.environ)
        reward = preset(args.preset, args.ranked, task_key=args.task_key, **dict(args.option))
        service = RewardService(reward, name=args.preset, state_dir=args.state_dir,
                                commit_every=args.commit_every, max_rows=args.max_rows)  # fmt: skip
        if service.resumed_from is not None:
            print(f"[rankreward serve] resumed step {service.step_now()} from {service.resumed_from}",
                  flush=True)  # fmt: skip
        serve(service, args.host, args.port, token=token, max_body_bytes=args.max_body_bytes,
              log_level=args.log_level)  # fmt: skip
    except (ValueError, TypeError) as e:
        raise SystemExit(f"rankreward serve: {e}") from None
    return 0
