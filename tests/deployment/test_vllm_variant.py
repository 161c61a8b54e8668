"""The generated vLLM-backend repository (no vLLM here: the files are checked, not served)."""

from __future__ import annotations

import json
import py_compile
import re

from repair.dataset import DEFAULT_WINDOW
from repair.serving.repository import parse_config, template_config
from repair.serving.vllm_variant import GENERATOR_NAME, VllmEngineArgs, main, write_vllm_repository


def _block(text: str, name: str) -> str:
    match = re.search(rf"^{name} \[(.*?)^\]", text, re.MULTILINE | re.DOTALL)
    assert match, f"no {name} block"
    return match.group(1)


def test_vllm_repository_files(tmp_path):
    written = write_vllm_repository(
        tmp_path, VllmEngineArgs(model="/models/code_repair/v7", max_model_len=2048)
    )
    assert {p.relative_to(tmp_path).as_posix() for p in written} == {
        f"{GENERATOR_NAME}/config.pbtxt",
        f"{GENERATOR_NAME}/1/model.json",
        "code_repair/config.pbtxt",
        "code_repair/1/model.py",
    }
    vllm = (tmp_path / GENERATOR_NAME / "config.pbtxt").read_text()
    assert 'backend: "vllm"' in vllm and "decoupled: true" in vllm and "kind: KIND_MODEL" in vllm
    for tensor in ("text_input", "stream", "sampling_parameters", "text_output"):
        assert f'name: "{tensor}"' in vllm
    engine = json.loads((tmp_path / GENERATOR_NAME / "1" / "model.json").read_text())
    assert engine["model"] == "/models/code_repair/v7" and engine["max_model_len"] == 2048

    wrapper = parse_config((tmp_path / "code_repair" / "config.pbtxt").read_text())
    template = parse_config(template_config())
    # Same section 4 interface as the CPU model, so clients need no change.
    assert list(wrapper.input) == list(template.input) and list(wrapper.output) == list(template.output)
    assert wrapper.parameters["generator_model"].string_value == GENERATOR_NAME
    assert not wrapper.HasField("dynamic_batching")
    assert wrapper.parameters["window"].string_value == str(DEFAULT_WINDOW)
    assert (
        "checkpoint_dir" not in wrapper.parameters and wrapper.parameters["temperature"].string_value == "0.1"
    )
    py_compile.compile(str(tmp_path / "code_repair" / "1" / "model.py"), doraise=True)


def test_command_line(tmp_path, capsys):
    main([str(tmp_path), "/ckpt", "--tensor-parallel-size", "2"])
    assert "model.json" in capsys.readouterr().out
    assert (
        json.loads((tmp_path / GENERATOR_NAME / "1" / "model.json").read_text())["tensor_parallel_size"] == 2
    )
