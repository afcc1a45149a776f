"""The service's ASGI layer in-process, driven by a minimal ASGI client: the middleware wraps
every route (token, body limit, request metrics), every error is JSON with its status and is
counted under that status, and the Prometheus counters only grow."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

pytest.importorskip("starlette")
pytest.importorskip("prometheus_client")

from rankreward.rewards import preset
from rankreward.serve import RewardService, build_app

TOKEN = "a-token-of-thirty-two-characters"


def call(app, method, path, body=b"", headers=(), chunks=None):
    """One request through ``app``; ``chunks`` sends the body in pieces. -> (status, bytes)."""
    path, _, query = path.partition("?")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "path": path, "raw_path": path.encode(), "root_path": "",
             "scheme": "http", "query_string": query.encode(), "server": ("127.0.0.1", 8000),
             "client": ("127.0.0.1", 5000),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers]}  # fmt: skip
    pieces = list(chunks) if chunks is not None else [body]
    messages = [{"type": "http.request", "body": p, "more_body": i < len(pieces) - 1}
                for i, p in enumerate(pieces)]  # fmt: skip
    sent: list[dict] = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def run():
        try:
            await app(scope, receive, send)
        except Exception:  # Starlette re-raises after answering 500 (for the server's log)
            pass

    asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


def counted(app, path, status):
    _, text = call(app, "GET", "/metrics", headers=[("Authorization", f"Bearer {TOKEN}")])
    found = re.search(rf'rankreward_requests_total{{path="{path}",status="{status}"}} (\S+)',
                      text.decode())  # fmt: skip
    return 0.0 if found is None else float(found.group(1))


@pytest.fixture
def app():
    service = RewardService(preset("seg-zero", ranked=True), name="seg-zero", max_rows=4)
    return build_app(service, token=TOKEN, max_body_bytes=2000)


AUTH = [("Authorization", f"Bearer {TOKEN}")]


def test_the_token_guards_every_route_but_healthz(app):
    assert call(app, "GET", "/healthz")[0] == 200
    for method, path in (("GET", "/state"), ("GET", "/info"), ("GET", "/metrics"),
                         ("POST", "/score"), ("POST", "/commit"), ("POST", "/openrlhf")):  # fmt: skip
        status, body = call(app, method, path)
        assert status == 401 and json.loads(body) == {"error": "a valid token is required"}
        assert call(app, method, path, headers=[("Authorization", "Bearer " + "x" * 32)])[0] == 403
    assert call(app, "GET", f"/state?token={TOKEN}")[0] == 200
    assert counted(app, "/state", 401) == 1 and counted(app, "/state", 403) == 1


def test_a_body_over_the_limit_is_refused_declared_or_streamed(app):
    big = b"x" * 3000
    status, body = call(app, "POST", "/score", big, [*AUTH, ("Content-Length", "3000")])
    assert status == 413 and "--max-body-bytes" in json.loads(body)["error"]
    status, body = call(app, "POST", "/score", headers=AUTH, chunks=[big[:1500], big[1500:]])
    assert status == 413 and "over the limit of 2000 bytes" in json.loads(body)["error"]
    assert counted(app, "/score", 413) == 2


def test_errors_are_json_with_their_status_and_counted_under_it(app, monkeypatch):
    status, body = call(app, "POST", "/score", b"{not json", AUTH)
    assert status == 400 and "not JSON" in json.loads(body)["error"]
    status, body = call(app, "POST", "/score", b'{"completions": ["a"], "ground_truth": ["x"]}',
                        AUTH)  # fmt: skip
    assert status == 422 and json.loads(body)["error"].startswith("ValueError:")

    def broken():
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(app.state.service, "info", broken)
    status, body = call(app, "GET", "/info", headers=AUTH)
    assert status == 500 and "disk on fire" in json.loads(body)["error"]
    assert counted(app, "/info", 500) == 1 and counted(app, "/info", 200) == 0
    assert counted(app, "/score", 400) == 1 and counted(app, "/score", 422) == 1


def test_counters_only_grow_and_the_window_gauges_follow_the_service(app):
    import numpy as np

    from rankreward.testing.recipe_batches import segzero_batch

    texts, gts = segzero_batch(3, np.random.default_rng(0), 0.3)
    body = json.dumps({"completions": texts, "ground_truth": gts}).encode()
    seen = []
    for _ in range(3):
        assert call(app, "POST", "/score", body, AUTH)[0] == 200
        seen.append(counted(app, "/score", 200))
    assert seen == [1.0, 2.0, 3.0]
    _, text = call(app, "GET", "/metrics", headers=AUTH)
    text = text.decode()
    assert "rankreward_rows_total 9.0" in text and "rankreward_step 0.0" in text
    assert call(app, "POST", "/commit", headers=AUTH)[0] == 200
    _, text = call(app, "GET", "/metrics", headers=AUTH)
    assert "rankreward_step 1.0" in text.decode()
    for key, entry in app.state.service.state()["windows"].items():
        assert f'rankreward_window_values{{window="{key}"}} {float(entry["size"])}' in text.decode()
