"""The reward service: one process owns a reward's windows and scores for every trainer, worker
and node over HTTP (``rankreward serve``).

Why a service: a trainer that is neither ``torch.distributed`` nor Ray (several jobs, a
CPU-heavy reward moved off the GPU nodes, OpenRLHF's ``--remote_rm_url``) still gets one
window per recipe term, with per-step semantics, checkpoints and resume. The server stack is
Starlette on uvicorn (token, body limit and metrics as ASGI middleware, errors through
exception handlers, `prometheus_client` for ``/metrics``): maintained, asynchronous, small (no validation framework: every request
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
import contextlib
import ipaddress
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .middleware import BodyLimit, RequestMetrics, TokenAuth, exception_handlers
from .service import RequestError, RewardService

__all__ = ["MIN_TOKEN_CHARS", "TOKEN_ENV", "build_app", "main", "read_token", "serve"]

#: The token's environment variable (``--token-file`` takes precedence).
TOKEN_ENV = "RANKREWARD_SERVE_TOKEN"
#: Shortest accepted token: a guessable one is no protection.
MIN_TOKEN_CHARS = 16


class RedactToken(logging.Filter):
    """Blank the ``?token=`` query value in uvicorn's access log lines (the header form is
    never logged): a token in a log is a token anyone with the log holds.

    Examples:
        >>> record = logging.LogRecord("uvicorn.access", 20, "", 0, '%s "%s %s"', ("c", "GET",
        ...                            "/state?full=1&token=s3cret"), None)
        >>> RedactToken().filter(record), record.getMessage()
        (True, 'c "GET /state?full=1&token=[redacted]"')
    """

    _TOKEN = re.compile(r"([?&]token=)[^&#\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(self._TOKEN.sub(r"\1[redacted]", a) if isinstance(a, str) else a
                                for a in record.args)  # fmt: skip
        elif isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1[redacted]", record.msg)
        return True


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_app(service: RewardService, *, token: str | None = None,
              max_body_bytes: int = 64 << 20) -> Any:  # fmt: skip
    """The Starlette app serving ``service`` (see the package docs): routes, the middleware
    (request metrics outermost, then the token, then the body limit), the JSON exception
    handlers, and a lifespan that saves the windows at shutdown. O(1).

    Examples:
        >>> from rankreward.rewards import preset
        >>> app = build_app(RewardService(preset("seg-zero"), name="seg-zero"))
        >>> sorted(r.path for r in app.routes)[:3]
        ['/commit', '/healthz', '/info']
    """
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from .metrics import ServiceMetrics

    metrics = ServiceMetrics(service)

    def endpoint(handler: Any, *, needs_body: bool = False) -> Any:
        async def run(request: Request) -> Any:
            args = []
            if needs_body:
                raw = await request.body()  # BodyLimit raises 413 while it streams in
                try:
                    args.append(json.loads(raw))
                except (ValueError, RecursionError) as e:
                    raise RequestError(400, f"the body is not JSON: {e}") from None
            return JSONResponse(await run_in_threadpool(handler, request, *args))

        return run

    async def prometheus(request: Request) -> Any:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(await run_in_threadpool(metrics.text), media_type=CONTENT_TYPE_LATEST)

    routes = [
        Route("/score", endpoint(lambda r, p: service.score(p), needs_body=True), methods=["POST"]),
        Route("/openrlhf", endpoint(lambda r, p: service.score_openrlhf(p), needs_body=True),
              methods=["POST"]),
        Route("/commit", endpoint(lambda r: service.commit()), methods=["POST"]),
        Route("/save", endpoint(lambda r: service.save()), methods=["POST"]),
        Route("/state", endpoint(lambda r: service.state(r.query_params.get("full") == "1"))),
        Route("/info", endpoint(lambda r: service.info())),
        Route("/metrics", prometheus),
        Route("/healthz", endpoint(lambda r: {"ok": True, "step": service.step_now()})),
    ]  # fmt: skip
    middleware = [Middleware(RequestMetrics, metrics=metrics)]
    if token is not None:
        middleware.append(Middleware(TokenAuth, token=token, open_paths=("/healthz",)))
    middleware.append(Middleware(BodyLimit, max_bytes=max_body_bytes))

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> Any:
        yield
        # uvicorn runs this after the requests in flight finished (SIGINT/SIGTERM), then
        # re-raises the signal: the windows are saved here, not after uvicorn.run returns
        if service.state_dir is not None:
            await run_in_threadpool(service.save)

    app = Starlette(routes=routes, middleware=middleware,
                    exception_handlers=exception_handlers(), lifespan=lifespan)  # fmt: skip
    app.state.service, app.state.metrics = service, metrics
    return app


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
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level,
                            timeout_graceful_shutdown=30)  # fmt: skip
    logging.getLogger("uvicorn.access").addFilter(RedactToken())  # after uvicorn's set-up
    uvicorn.Server(config).run()


def _port(text: str) -> int:
    """An ``argparse`` type: a TCP port, 1..65535."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (1..65535)")
    return port


def build_segmenter(spec: str, device: str | None = None) -> Any:
    """``--segmenter``: ``"box"`` (`BoxSegmenter`), ``"tiny"`` (a random tiny SAM2, for
    offline checks) or a SAM2 checkpoint (folder or hub id) loaded once on ``device``. O(load).

    Examples:
        >>> type(build_segmenter("box")).__name__
        'BoxSegmenter'
    """
    from ..segment import BoxSegmenter, Sam2Segmenter, build_tiny_sam2

    if spec == "box":
        return BoxSegmenter()
    if spec == "tiny":
        import tempfile

        return Sam2Segmenter(
            build_tiny_sam2(tempfile.mkdtemp(prefix="rankreward-sam2-")), device=device or "cpu"
        )
    try:
        return Sam2Segmenter(spec, device=device)
    except OSError as err:
        raise ValueError(f"--segmenter {spec!r}: not a SAM2 checkpoint ({err})") from None


def main(argv: Sequence[str] | None = None) -> int:
    """``rankreward serve``: see the module docs and docs/training.md ("A reward service").

    Example:
        ```python
        main(["--preset", "seg-zero", "--ranked", "--state-dir", "runs/reward-state"])
        ```
    """
    from ..arguments import parse_option
    from ..rewards import PRESETS, preset

    p = argparse.ArgumentParser(prog="rankreward serve", description=__doc__.splitlines()[0])
    p.add_argument("--preset", required=True, choices=sorted(PRESETS))
    p.add_argument("--ranked", action=argparse.BooleanOptionalAction, default=None,
                   help="ranked or raw (default: the recipe's own choice)")  # fmt: skip
    p.add_argument("--option", type=parse_option, action="append", default=[], metavar="KEY=VALUE",
                   help="a preset option (JSON value or text), repeatable: --option method=od_ap")  # fmt: skip
    p.add_argument("--task-key", help="the column whose values get their own windows")
    p.add_argument("--segmenter", metavar="SAM2|box|tiny",
                   help="host the segmenter of a mask preset: a SAM2 checkpoint folder or hub id "
                        "(loaded once), 'box' (each box filled), 'tiny' (a random tiny SAM2)")  # fmt: skip
    p.add_argument(
        "--segmenter-device", help="where the segmenter runs (default cuda:LOCAL_RANK or cpu)"
    )
    p.add_argument("--image-root", help="the folder image paths in requests are read from")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_port, default=8000, help="1..65535")
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
        options = dict(args.option)
        if args.segmenter is not None:
            options["segmenter"] = build_segmenter(args.segmenter, args.segmenter_device)
        reward = preset(args.preset, args.ranked, task_key=args.task_key, **options)
        service = RewardService(reward, name=args.preset, state_dir=args.state_dir,
                                commit_every=args.commit_every, max_rows=args.max_rows,
                                image_root=args.image_root)  # fmt: skip
        if service.resumed_from is not None:
            print(f"[rankreward serve] resumed step {service.step_now()} from {service.resumed_from}",
                  flush=True)  # fmt: skip
        serve(service, args.host, args.port, token=token, max_body_bytes=args.max_body_bytes,
              log_level=args.log_level)  # fmt: skip
    except (ValueError, TypeError) as e:
        raise SystemExit(f"rankreward serve: {e}") from None
    return 0
