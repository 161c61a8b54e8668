"""Fixtures shared by the deployment tests and the DSPy teacher's test against the deployed model:
a tiny checkpoint (random weights, `repair.serving.demo`), the same model overfitted on
one repair so that a fix round-trips deterministically, and a REAL embedded Triton server serving a
deploy repository built by the rollout code."""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from repair.serving.client import RepairClient
from repair.serving.rollout import SMOKE_CASES, SmokeCase
from repair.serving.server import free_ports

# The case the overfitted model learns: its prompt -> this diff.
LEARNED_CASE: SmokeCase = SMOKE_CASES[0]
LEARNED_DIFF = "<diff>\n-3 screen = turtle.screen\n+3 screen = turtle.Screen()\n</diff>"


def start_repair_serve(store: Path, checkpoint: Path) -> tuple[subprocess.Popen, tuple[int, int, int]]:
    """`repair serve` of `checkpoint` in a subprocess on free (http, grpc, metrics) ports, returned once
    its Triton answers ready; the caller stops it."""
    ports = free_ports(3)
    http, grpc, metrics = ports
    command = [
        sys.executable, "-m", "repair.cli", "serve", "--store", str(store), "--checkpoint", str(checkpoint),
        "--http-port", str(http), "--grpc-port", str(grpc), "--metrics-port", str(metrics),
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 600
    try:
        with RepairClient(f"127.0.0.1:{grpc}", retries=0) as client:
            while not client.is_ready():
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "repair serve did not become ready"
                time.sleep(1)
    except BaseException:
        process.kill()
        raise
    return process, ports


def overfit(
    checkpoint: Path, out_dir: Path, prompt: str, response: str, steps: int = 40, lr: float = 3e-3, wrap=None
) -> Path:
    """Trains the checkpoint on one (prompt, response) pair until it reproduces it. `wrap(model)`
    returns what trains and is saved instead (e.g. peft's `get_peft_model`: only an adapter)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from repair.dataset import model_input

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForCausalLM.from_pretrained(checkpoint)
    if wrap is not None:
        torch.manual_seed(0)
        model = wrap(model)
    prompt_ids = tokenizer(model_input(prompt), add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = torch.tensor([prompt_ids + answer_ids])
    labels = torch.tensor([[-100] * len(prompt_ids) + answer_ids])
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    torch.manual_seed(0)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread beats two fighting a busy machine
    try:
        for _ in range(steps):
            loss = model(input_ids=ids, labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from repair.serving.demo import tiny_checkpoint as build

    return build(tmp_path_factory.mktemp("tiny") / "checkpoint")


@pytest.fixture(scope="session")
def learned_checkpoint(tiny_checkpoint, tmp_path_factory) -> Path:
    from repair.dataset import DEFAULT_WINDOW
    from repair.serving.handler import RepairRequest, build_prompt

    request = RepairRequest(LEARNED_CASE.code, LEARNED_CASE.diagnostic, LEARNED_CASE.file_name)
    # The prompt the served model builds (the config's window "" = the training window).
    prompt = build_prompt(request, DEFAULT_WINDOW)
    return overfit(tiny_checkpoint, tmp_path_factory.mktemp("learned"), prompt, LEARNED_DIFF)


@contextmanager
def serving(checkpoint: Path, store_dir: Path):
    """A real embedded Triton serving `code_repair` version 1 (`checkpoint`) from a deploy repository
    in a local store at `store_dir`; yields (server, repository)."""
    from repair.serving.repository import DEFAULT_SERVING, DeployRepository
    from repair.serving.rollout import ModelControl
    from repair.serving.server import EmbeddedTritonServer
    from resources.object_store import LocalObjectStore

    store = LocalObjectStore(store_dir)
    repository = DeployRepository(store)
    repository.write_version(1, checkpoint)
    repository.write_config(repository.model_name, [1], DEFAULT_SERVING)
    with EmbeddedTritonServer(repository.local_path(), log_path=store.root / "tritonserver.log") as server:
        control = ModelControl(server.grpc_url)
        control.load(repository.model_name)
        control.close()
        yield server, repository


@pytest.fixture(scope="session")
def local_cluster():
    """A Spark `local-cluster[2,1,1024]` session (two executor JVMs with their own Python workers),
    shared by the Spark tests and stopped at the end."""
    from resources.spark import LOCAL_CLUSTER, local_spark_session

    session = local_spark_session(LOCAL_CLUSTER)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def served(tmp_path_factory, learned_checkpoint):
    """The learned checkpoint served by a real embedded Triton (`serving`); yields (server,
    repository). (Rollouts themselves are tested in test_rollout.py.)"""
    with serving(learned_checkpoint, tmp_path_factory.mktemp("store")) as served_pair:
        yield served_pair
