"""A hostile network and careless hands (issue 39, first findings): the token never reaches
a log or another host, and the command lines refuse a wrong size, port, output path, and
never leave a partial file that looks complete."""

from __future__ import annotations

import http.server
import json
import threading

import numpy as np
import pytest

from rankreward.frames import check_size

TOKEN = "a-token-of-thirty-two-characters"


@pytest.mark.parametrize("size", ["64", b"64", (True, 5), ("640", 480), [1.0], 64])
def test_a_size_must_be_two_numbers(size):
    with pytest.raises(ValueError, match="image_size must be"):
        check_size(size, "image_size")


def test_serve_refuses_a_port_out_of_range(capsys):
    from rankreward.serve import main

    for port in ("70000", "0", "http"):
        with pytest.raises(SystemExit) as e:
            main(["--preset", "seg-zero", "--port", port])
        assert e.value.code == 2
        assert "--port" in capsys.readouterr().err


def test_eval_names_an_output_dir_that_is_a_file(tmp_path):
    from rankreward.evaluation.cli import main

    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    with pytest.raises(SystemExit, match=f"--output-dir {blocker}"):
        main(["--tiny", "--output-dir", str(blocker)])


def _score_files(tmp_path, n=40, bad_at=None):
    from rankreward.testing.synthetic import synthetic_batch

    texts, gts = synthetic_batch(n, np.random.default_rng(0), max_objects=3)
    if bad_at is not None:
        gts[bad_at] = '[{"bbox_2d": "not a box"}]'  # a user's broken ground truth
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(t) + "\n" for t in texts))
    (tmp_path / "g.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gts))
    return ["score", "--completions", str(tmp_path / "c.jsonl"), "--ground-truth",
            str(tmp_path / "g.jsonl"), "--step-size", "8"]  # fmt: skip


def test_score_out_is_complete_or_not_there(tmp_path):
    from rankreward.cli import main

    out = tmp_path / "rows.jsonl"
    with pytest.raises(SystemExit, match=r"lines 33\.\.40"):
        main([*_score_files(tmp_path, bad_at=35), "--out", str(out)])
    assert not out.exists()  # 32 rows were written, but only under the .partial name
    assert len((tmp_path / "rows.jsonl.partial").read_text().splitlines()) == 32
    assert main([*_score_files(tmp_path), "--out", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 40
    with pytest.raises(SystemExit, match=r"--out .*missing"):
        main([*_score_files(tmp_path), "--out", str(tmp_path / "missing" / "rows.jsonl")])


def _http_server(handler):
    httpd = http.server.HTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def test_the_remote_client_never_follows_a_redirect_to_another_host():
    from rankreward.adapters.remote import RemoteReward

    seen: list[dict] = []

    class Elsewhere(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            seen.append(dict(self.headers))
            self.send_response(200)
            self.end_headers()

        do_GET = do_POST

        def log_message(self, *args):
            pass

    other, other_url = _http_server(Elsewhere)

    class Redirect(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(302)
            self.send_header("Location", other_url + "/score")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    here, url = _http_server(Redirect)
    try:
        remote = RemoteReward(url, token=TOKEN, retries=0, timeout=10)
        with pytest.raises(ValueError, match=r"refused a redirect .* another host"):
            remote.score(["a"], ["[0, 0, 1, 1]"])
        assert seen == []  # the token never left for the other host
    finally:
        here.shutdown()
        other.shutdown()


@pytest.mark.slow
def test_the_token_never_reaches_the_access_log(tmp_path):
    pytest.importorskip("uvicorn")
    from tests.test_service import _call, server

    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    with server("--preset", "seg-zero", "--token-file", str(token_file),
                "--log-level", "info") as (url, proc):  # fmt: skip
        assert _call(url, f"/state?token={TOKEN}")[0] == 200
        assert _call(url, "/state?token=wrong-but-also-secret")[0] == 403
    log = proc.stdout.read()
    assert "GET /state?token=[redacted]" in log
    assert TOKEN not in log and "wrong-but-also-secret" not in log
