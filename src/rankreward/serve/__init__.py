"""The reward service (``rankreward serve``): one process owns a reward's windows and scores
for every trainer, worker and node over HTTP.

- `rankreward.serve.service`: `RewardService`, the state machine (no HTTP);
- `rankreward.serve.app`: the Starlette app, its routes and lifespan, `serve`, the command line;
- `rankreward.serve.middleware`: token, body limit, request metrics, JSON error handlers;
- `rankreward.serve.metrics`: the Prometheus metrics (`prometheus_client`).

Starlette, uvicorn and prometheus_client (extra ``serve``) load only when the app is built.
"""

from .app import MIN_TOKEN_CHARS, TOKEN_ENV, build_app, main, read_token, serve
from .service import RequestError, RewardService

__all__ = [
    "MIN_TOKEN_CHARS",
    "TOKEN_ENV",
    "RequestError",
    "RewardService",
    "build_app",
    "main",
    "read_token",
    "serve",
]
