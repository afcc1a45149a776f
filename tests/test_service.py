"""The reward service with a real server process on 127.0.0.1 (issue 29): equal to the
in-process preset, OpenRLHF's own remote-reward client, auth refusals and limits, malformed
JSON, a client dropping mid-request, kill -9 and resume, 16 concurrent clients. Every wait is
bounded; nothing listens beyond loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

from rankreward.adapters.remote import RemoteReward
from rankreward.rewards import LocalWindows, preset
from rankreward.testing.recipe_batches import segzero_batch

TOKEN = "a-token-of-thirty-two-characters"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def server(*args: str, env: dict | None = None, port: int | None = None):
    port = port or _free_port()
    cmd = [sys.executable, "-m", "rankreward.cli", "serve", "--port", str(port),
           "--log-level", "warning", *args]  # fmt: skip
    proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the service did not start: {proc.stdout.read()}") from None
            time.sleep(0.1)
    try:
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _batches(steps: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [segzero_batch(size, rng, 0.3) for _ in range(steps)]


def test_equal_to_the_in_process_preset_and_its_windows(tmp_path):
    local = preset("seg-zero", ranked=True)
    with server("--preset", "seg-zero", "--ranked") as (url, _):
        remote = RemoteReward(url)
        remote.commits_seen = 0
        for texts, gts in _batches(3, 8):
            want = local.score(texts, gts)
            got = remote.score(texts, gts)
            # one vocabulary: the remote breakdown has the local one's keys and arrays
            arrays = {k for k, v in want.items() if isinstance(v, np.ndarray)}
            assert arrays <= set(got) and got["step"] == remote.commits_seen
            for name in arrays:
                np.testing.assert_array_equal(got[name], want[name], err_msg=name)
            assert got["problems"] == want["problems"]
            local.commit()
            assert remote.commit() > 0
            remote.commits_seen += 1
        state = remote.request("GET", "/state?full=1")
    for key, entry in state["windows"].items():
        np.testing.assert_array_equal(
            entry["values"], local.windows.get(key).state_dict()["values"]
        )


def test_openrlhfs_own_client_against_the_service():
    agent = pytest.importorskip("openrlhf.utils.agent")
    texts, gts = _batches(1, 6)[0]
    prompt = "<|im_start|>user\nfind it<|im_end|>\n<|im_start|>assistant\n"
    queries = [prompt + t + "<|im_end|>" for t in texts]
    local = preset("seg-zero")
    want = local.score(texts, gts)["reward"].tolist()
    with server("--preset", "seg-zero") as (url, _):
        executor = agent.SingleTurnAgentExecutor(url + "/openrlhf")
        got = [asyncio.run(executor._fetch_rewards_via_http([q], [prompt], [g]))[0]
               for q, g in zip(queries, gts, strict=True)]  # fmt: skip
    assert [g["rewards"][0] for g in got] == want
    assert [g["scores"][0] for g in got] == [w / 5.0 for w in want]
    assert "seg_zero_iou" in got[0]["extra_logs"]


def _call(url: str, path: str, body: bytes | None = None, headers: dict | None = None):
    req = urllib.request.Request(url + path, data=body, headers=headers or {},
                                 method="POST" if body is not None else "GET")  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_auth_limits_and_malformed_requests(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    texts, gts = _batches(1, 6)[0]
    good = json.dumps({"completions": texts[:2], "ground_truth": gts[:2]}).encode()
    with server("--preset", "seg-zero", "--token-file", str(token_file), "--max-rows", "4",
                "--max-body-bytes", "20000") as (url, _):  # fmt: skip
        assert _call(url, "/healthz")[0] == 200  # liveness only, no data
        assert _call(url, "/score", good)[0] == 401
        assert _call(url, "/state")[0] == 401
        assert _call(url, "/score", good, {"Authorization": "Bearer " + "x" * 32})[0] == 403
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert _call(url, "/score", good, auth)[0] == 200
        assert _call(url, f"/state?token={TOKEN}")[0] == 200  # clients without headers
        status, out = _call(url, "/score", json.dumps(
            {"completions": texts[:5], "ground_truth": gts[:5]}).encode(), auth)  # fmt: skip
        assert status == 422 and "limit of 4 per request (--max-rows)" in out["error"]
        status, out = _call(url, "/score", b'{"completions": ["' + b"x" * 30000 + b'"]}', auth)
        assert status == 413 and "--max-body-bytes" in out["error"]
        status, out = _call(url, "/score", b"{not json", auth)
        assert status == 400 and "not JSON" in out["error"]
        status, out = _call(url, "/score", json.dumps({"completions": ["a"],
                                                       "ground_truth": ["bad"]}).encode(), auth)  # fmt: skip
        assert status == 422 and "ground truth of sample 0" in out["error"]
        status, out = _call(url, "/score", json.dumps({"completions": "a"}).encode(), auth)
        assert status == 422 and "'completions' must be a list" in out["error"]


def test_refuses_to_listen_unsafely(tmp_path):
    out = subprocess.run([sys.executable, "-m", "rankreward.cli", "serve", "--preset", "seg-zero",
                          "--host", "0.0.0.0", "--port", str(_free_port())],
                         capture_output=True, text=True, timeout=60, env={**os.environ,
                         "RANKREWARD_SERVE_TOKEN": ""})  # fmt: skip
    assert out.returncode != 0 and "needs a token" in out.stderr
    short = tmp_path / "t"
    short.write_text("short")
    out = subprocess.run([sys.executable, "-m", "rankreward.cli", "serve", "--preset", "seg-zero",
                          "--token-file", str(short)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode != 0 and "at least 16" in out.stderr


def test_a_client_dropping_mid_request_and_a_retried_request(tmp_path):
    texts, gts = _batches(1, 4)[0]
    with server("--preset", "seg-zero", "--ranked") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        body = json.dumps({"completions": texts, "ground_truth": gts}).encode()
        for cut in (len(body) // 2, len(body)):  # mid-body, and before reading the answer
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:cut])  # fmt: skip
        remote = RemoteReward(url)
        time.sleep(0.5)
        staged = remote.request("GET", "/state")["windows"]["/iou"]["staged"]
        applicable = sum(v is not None for v in preset("seg-zero", ranked=True).score(
            texts, gts)["iou"].tolist() if v == v)  # fmt: skip
        # the dropped body staged nothing; the request whose answer was not read staged once
        assert staged in (0, applicable)
        payload = {"completions": texts, "ground_truth": gts, "request_id": "same"}
        first = remote.request("POST", "/score", payload)
        again = remote.request("POST", "/score", payload)  # a retry after a timeout
        assert first == again
        after = remote.request("GET", "/state")["windows"]["/iou"]["staged"]
        assert after - staged == sum(v is not None for v in first["components"]["iou_rank"])


@pytest.mark.slow
def test_kill_9_and_resume_equals_an_uninterrupted_run(tmp_path):
    batches = _batches(4, 4, seed=3)
    state = tmp_path / "state"
    args = ("--preset", "seg-zero", "--ranked", "--commit-every", "4", "--state-dir", str(state))
    with server(*args) as (url, proc):
        remote = RemoteReward(url)
        for texts, gts in batches[:2]:
            remote.score(texts, gts)
        proc.kill()  # kill -9: no shutdown handler runs
        proc.wait(timeout=30)
    assert sorted(p.name for p in state.iterdir()) == ["step_1.npz", "step_2.npz"]
    with server(*args) as (url, proc):
        remote = RemoteReward(url)
        assert remote.request("GET", "/state")["step"] == 2
        for texts, gts in batches[2:]:
            remote.score(texts, gts)
        resumed = remote.request("GET", "/state?full=1")
    single = preset("seg-zero", ranked=True, windows=LocalWindows(commit_every=4))
    for texts, gts in batches:
        single.score(texts, gts)
    assert resumed["step"] == single.windows.commits == 4
    for key, entry in resumed["windows"].items():
        np.testing.assert_array_equal(
            entry["values"], single.windows.get(key).state_dict()["values"]
        )


@pytest.mark.slow
def test_sigterm_saves_the_staged_values(tmp_path):
    texts, gts = _batches(1, 4)[0]
    state = tmp_path / "state"
    with server("--preset", "seg-zero", "--ranked", "--state-dir", str(state)) as (url, proc):
        remote = RemoteReward(url)
        remote.score(texts, gts)
        before = remote.request("GET", "/state")["windows"]["/iou"]["staged"]
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert (state / "step_0.npz").exists()
    with server("--preset", "seg-zero", "--ranked", "--state-dir", str(state)) as (url, _):
        staged = RemoteReward(url).request("GET", "/state")["windows"]["/iou"]["staged"]
    assert staged == before > 0


@pytest.mark.slow
def test_sixteen_concurrent_clients_lose_nothing():
    rng = np.random.default_rng(11)
    work = [[segzero_batch(2, rng, 0.2) for _ in range(50)] for _ in range(16)]
    with server("--preset", "seg-zero", "--ranked") as (url, _):
        errors: list[BaseException] = []

        def client(batches):
            remote = RemoteReward(url)
            try:
                for texts, gts in batches:
                    remote.score(texts, gts)
            except BaseException as e:  # any error fails the test
                errors.append(e)

        threads = [threading.Thread(target=client, args=(w,)) for w in work]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)
        assert not errors
        remote = RemoteReward(url)
        remote.commit()
        state = remote.request("GET", "/state?full=1")
        metrics = remote.request("GET", "/metrics")
    assert "rankreward_rows_total 1600" in metrics
    single = preset("seg-zero", ranked=True)
    for batches in work:
        for texts, gts in batches:
            single.score(texts, gts)
    single.commit()
    for key, entry in state["windows"].items():  # the same rows, in the order they arrived
        want = single.windows.get(key).state_dict()["values"]
        np.testing.assert_array_equal(np.sort(entry["values"], axis=0), np.sort(want, axis=0))


def test_in_process_service_object():
    from rankreward.serve import RequestError, RewardService

    service = RewardService(preset("perception-r1"), name="perception-r1", max_rows=2)
    with pytest.raises(RequestError, match="limit of 2"):
        service.score({"completions": ["a"] * 3, "ground_truth": ["[0, 0, 1, 1]"] * 3})
    with pytest.raises(RequestError, match="column 'image_size' must be a list of 1"):
        service.score(
            {"completions": ["a"], "ground_truth": ["[0, 0, 1, 1]"], "image_size": [1, 2]}
        )
    assert service.info()["parts"] == ["grounding", "format"]
    assert service.info()["components"] == service.reward.logged_keys  # what /score returns


@pytest.mark.parametrize(
    "body, kind",
    [
        (b"<html>proxy login</html>", "text/html"),
        (b'{"rewards": "oops", "components": {}}', "application/json"),
        (b'{"rewards": [1.0], "components": {"iou": ["x"]}}', "application/json"),
        (b'{"error": "nothing"}', "application/json"),
    ],
)
def test_the_remote_client_refuses_an_answer_that_is_not_a_breakdown(body, kind):
    """A 200 that is not this batch's breakdown (a proxy's page, another service) is a
    ValueError naming the URL, never rewards."""
    import http.server

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with pytest.raises(ValueError, match=f"{url}/score"):
            RemoteReward(url, retries=0, timeout=10).score(["a"], ["[0, 0, 1, 1]"])
    finally:
        httpd.shutdown()
