"""The server runner and the client without a model: clear errors when the server is down or dies,
never a hang; the pure parts (request validation, outcomes, config rendering, metrics parsing)."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from repair.linediff import make_diff, render_diff
from repair.serving.client import RepairClient, ServerUnavailable
from repair.serving.handler import BadRequest, outcome_from_completion, parse_request
from repair.serving.metrics import parse_metrics
from repair.serving.repository import ServingConfig, render_config, template_config
from repair.serving.server import EmbeddedTritonServer, TritonServerError, free_ports

DIAGNOSTIC = {"message": "m", "code": "F821", "source": "ruff", "line": 1}


def test_client_fails_fast_when_no_server_listens():
    (port,) = free_ports(1)
    started = time.monotonic()
    with RepairClient(f"127.0.0.1:{port}", retries=2, backoff_s=0.05) as client:
        assert not client.is_ready()
        with pytest.raises(ServerUnavailable, match=f"127.0.0.1:{port} unavailable after 3 attempts"):
            client.repair("x = 1\n", DIAGNOSTIC)
    assert time.monotonic() - started < 10


def test_server_that_dies_gives_clear_errors(tmp_path):
    (tmp_path / "repo").mkdir()
    server = EmbeddedTritonServer(tmp_path / "repo", log_path=tmp_path / "server.log").start()
    try:
        assert server.is_live() and server.is_ready()
        url = server.grpc_url
        os.killpg(server.pid, signal.SIGKILL)
        time.sleep(0.5)
        with pytest.raises(TritonServerError, match="died with code"):
            server.check_alive()
        with RepairClient(url, retries=1, backoff_s=0.05) as client, pytest.raises(ServerUnavailable):
            client.repair("x = 1\n", DIAGNOSTIC)
    finally:
        server.stop()
    assert not server.is_live()


def test_server_refuses_a_missing_repository(tmp_path):
    with pytest.raises(TritonServerError, match="does not exist"):
        EmbeddedTritonServer(tmp_path / "nowhere").start()


def test_request_validation_names_the_input_and_reason():
    request = parse_request(b"x = 1\n", json.dumps(DIAGNOSTIC).encode(), None, max_code_chars=100)
    assert request.file_name == "main.py" and request.diagnostic.line1 == 1
    assert parse_request("x\n", json.dumps(DIAGNOSTIC), b"app.py", max_code_chars=100).file_name == "app.py"
    cases = [
        ((None, "{}"), "input 'code' is missing"),
        ((b"\xff", json.dumps(DIAGNOSTIC)), "input 'code' is not UTF-8"),
        (("x" * 101, json.dumps(DIAGNOSTIC)), "101 characters; the limit is 100"),
        (("x", "[1]"), "must be a JSON object"),
        (("x", json.dumps({**DIAGNOSTIC, "line": "3"})), "'line' must be an integer"),
        (("x", json.dumps({**DIAGNOSTIC, "message": 3})), "'message' must be a string"),
    ]
    for (code, diagnostic), message in cases:
        with pytest.raises(BadRequest, match=message):
            parse_request(code, diagnostic, max_code_chars=100)


def test_outcomes_follow_the_contract():
    code = "import turtle\n\nscreen = turtle.screen\n"
    diff = render_diff(make_diff(code, code.replace("turtle.screen", "turtle.Screen()")))
    fixed = outcome_from_completion(code, f"Here you go:\n{diff}\n")
    assert (fixed.status, fixed.diff) == ("fixed", diff)
    assert fixed.fixed_code == code.replace("turtle.screen", "turtle.Screen()")
    assert outcome_from_completion(code, "<diff>\n</diff>").status == "no_fix"
    hallucinated = outcome_from_completion(code, "<diff>\n-3 screen = turtle.scren\n+3 x\n</diff>")
    assert hallucinated.status.startswith("rejected: hallucinated_line") and hallucinated.fixed_code == ""
    garbage = outcome_from_completion(code, "\n\n\n")
    assert garbage.status.startswith("rejected: no_diff_block") and garbage.diff == "\n\n\n"


def test_rendered_config_sets_versions_batching_and_instances():
    text = render_config(
        template_config(),
        name="code_repair_staging",
        versions=[3],
        serving=ServingConfig(instance_kind="KIND_GPU", instance_count=2, dynamic_batching=False),
    )
    assert 'name: "code_repair_staging"' in text
    assert "instance_group [ { count: 2 kind: KIND_GPU } ]" in text
    assert "dynamic_batching {" not in text
    assert text.rstrip().endswith("version_policy: { specific: { versions: [ 3 ] } }")
    again = render_config(text, name="code_repair", versions=[4])  # re-rendering a rendered config
    assert again.count("version_policy") == 1 and "versions: [ 4 ]" in again
    assert "max_queue_delay_microseconds: 5000" in again
    with pytest.raises(ValueError, match="instance_kind"):
        ServingConfig(instance_kind="GPU")


def test_metrics_are_summed_over_versions():
    text = """# HELP nv_inference_count Number of inferences performed
nv_inference_count{model="code_repair",version="1"} 3
nv_inference_count{model="code_repair",version="2"} 4
nv_inference_count{model="other",version="1"} 100
nv_inference_request_failure{model="code_repair",reason="BACKEND",version="2"} 1
code_repair_outcomes_total{model="code_repair",outcome="fixed",version="2"} 5
"""
    assert parse_metrics(text, "code_repair") == {
        'code_repair_outcomes_total{outcome="fixed"}': 5.0,
        "nv_inference_count": 7.0,
        'nv_inference_request_failure{reason="BACKEND"}': 1.0,
    }


def test_repair_fix_command_reports_an_unreachable_server(tmp_path):
    from click.testing import CliRunner

    from repair.cli import main

    (port,) = free_ports(1)
    target = tmp_path / "main.py"
    target.write_text("print(undefined_name)\n")
    result = CliRunner().invoke(main, ["fix", str(target), "--url", f"127.0.0.1:{port}"])
    assert result.exit_code == 3, result.output
    assert "is not defined" in result.output and "unavailable after" in result.output
