"""The server runner and the client without a model: clear errors when the server is down or dies,
never a hang; the pure parts (request validation, outcomes, config rendering, metrics parsing)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from repair.linediff import make_diff, render_diff
from repair.serving.client import RepairClient, ServerUnavailable
from repair.serving.handler import BadRequest, outcome_from_completion, parse_request
from repair.serving.metrics import parse_metrics
from repair.serving.repository import ServingConfig, parse_config, render_config, template_config
from repair.serving.server import (
    ADMIN_KEY_ENV,
    EmbeddedTritonServer,
    TritonServerError,
    admin_headers,
    free_ports,
)

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


def test_rendered_config_sets_versions_batching_queue_and_instances():
    from tritonclient.grpc import model_config_pb2

    text = render_config(
        template_config(),
        name="code_repair_staging",
        versions=[3],
        serving=ServingConfig(instance_kind="KIND_GPU", instance_count=2, dynamic_batching=False),
    )
    config = parse_config(text)
    assert config.name == "code_repair_staging"
    assert [
        (g.count, model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind)) for g in config.instance_group
    ] == [(2, "KIND_GPU")]
    assert not config.HasField("dynamic_batching")
    assert list(config.version_policy.specific.versions) == [3]
    again = parse_config(
        render_config(text, name="code_repair", versions=[4])
    )  # re-rendering a rendered config
    assert list(again.version_policy.specific.versions) == [4]
    assert again.dynamic_batching.max_queue_delay_microseconds == 5000
    policy = again.dynamic_batching.default_queue_policy
    assert (policy.max_queue_size, policy.default_timeout_microseconds) == (64, 120_000_000)
    assert (
        policy.timeout_action == model_config_pb2.ModelQueuePolicy.REJECT
        and not policy.allow_timeout_override
    )
    assert again.parameters["max_diagnostic_chars"].string_value == "8192"
    # The checked-in template bounds its queue too.
    assert parse_config(template_config()).dynamic_batching.default_queue_policy.max_queue_size == 64
    with pytest.raises(ValueError, match="instance_kind"):
        ServingConfig(instance_kind="GPU")
    with pytest.raises(ValueError, match="invalid serving config"):
        ServingConfig(max_queue_size=0)


def test_deeply_nested_or_huge_diagnostic_is_a_bad_request():
    with pytest.raises(BadRequest, match="nested too deeply"):
        parse_request("x = 1\n", "[" * 8000, max_code_chars=100)
    with pytest.raises(BadRequest, match="100000 bytes; the limit is 8192"):
        parse_request("x = 1\n", "[" * 100_000, max_code_chars=100)


def test_one_requests_crash_is_its_own_error():
    """Any exception while handling one request (not only a BadRequest) answers that request alone."""
    from repair.serving.handler import RepairRequest, RepairService

    def generate(prompts, sources):
        if any("boom" in p for p in prompts):
            raise RecursionError("maximum recursion depth exceeded")
        return ["<diff>\n</diff>"] * len(prompts)

    good = parse_request("x = 1\n", json.dumps(DIAGNOSTIC), max_code_chars=100)
    bad = RepairRequest("boom = 1\n", good.diagnostic)
    results = RepairService(generate, window=None).handle([good, bad, good])
    assert [getattr(r, "status", None) for r in results] == ["no_fix", None, "no_fix"]
    assert isinstance(results[1], BadRequest) and "RecursionError" in str(results[1])


def test_server_restricts_model_control_and_scrubs_its_environment(tmp_path, monkeypatch):
    import urllib.error
    import urllib.request

    import tritonclient.grpc as grpcclient

    from repair.serving.rollout import ModelControl, RolloutError

    monkeypatch.setenv("REPAIR_TEST_CLOUD_SECRET", "s3cr3t-do-not-leak")
    monkeypatch.setenv(ADMIN_KEY_ENV, "test-admin-key-123")
    (tmp_path / "repo").mkdir()
    with EmbeddedTritonServer(tmp_path / "repo", log_path=tmp_path / "server.log") as server:
        anonymous = grpcclient.InferenceServerClient(server.grpc_url)
        try:
            with pytest.raises(grpcclient.InferenceServerException, match="restricted"):
                anonymous.unload_model("code_repair")
            with pytest.raises(grpcclient.InferenceServerException, match="restricted"):
                anonymous.load_model("code_repair", config="{}", files={"file:1/model.py": b"import os"})
            assert anonymous.is_server_ready()  # health and inference stay open
        finally:
            anonymous.close()
        http = f"http://127.0.0.1:{server.endpoints.http_port}/v2/repository/index"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(urllib.request.Request(http, data=b"{}", method="POST"), timeout=5)
        keyed = urllib.request.Request(
            http, data=b"{}", method="POST", headers=admin_headers(protocol="http")
        )
        with urllib.request.urlopen(keyed, timeout=5) as response:
            assert response.status == 200
        wrong = ModelControl(server.grpc_url, admin_key="wrong-key")
        with pytest.raises(RolloutError, match="restricted"):
            wrong.unload("code_repair")
        wrong.close()
        control = ModelControl(server.grpc_url)  # the key from the environment
        assert control.client.get_model_repository_index(headers=control.headers) is not None
        control.close()
        environ = Path(f"/proc/{server.pid}/environ").read_bytes()
    assert b"s3cr3t-do-not-leak" not in environ and b"REPAIR_TEST_CLOUD_SECRET" not in environ
    assert b"test-admin-key-123" not in environ


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
