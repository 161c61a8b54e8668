"""Settings are read when a run uses them, not when the code location loads: an operator who changes
an environment variable sees it in the next run without reloading (resources/settings.py)."""

import dagster as dg

DAY = "2026-11-21"


def test_a_variable_changed_after_the_code_location_loaded_takes_effect_in_the_next_run(tmp_path, monkeypatch):
    monkeypatch.setenv("REPAIR_STORE_ROOT", str(tmp_path / "at_load"))
    from jobs.definitions import build_definitions

    defs = build_definitions("local")  # the code location, loaded once
    monkeypatch.setenv("REPAIR_STORE_ROOT", str(tmp_path / "changed"))
    job = defs.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(
        asset_selection=[dg.AssetKey("simulated_sessions")],
        partition_key=DAY,
        run_config={"ops": {"simulated_sessions": {"config": {"sessions": 1}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    assert list((tmp_path / "changed" / "sessions" / f"date={DAY}").glob("shard-*"))
    assert not (tmp_path / "at_load").exists()


def test_resource_settings_follow_the_environment_and_explicit_values_win(monkeypatch):
    from resources.choices import LintExecutor
    from resources.linter import LinterResource

    linter = LinterResource()
    monkeypatch.delenv("REPAIR_LINT_WORKERS", raising=False)
    monkeypatch.delenv("REPAIR_LINT_EXECUTOR", raising=False)
    monkeypatch.delenv("REPAIR_ENV", raising=False)
    assert linter.reproduce_settings().workers == 2 and linter.reproduce_settings().executor == "process"
    monkeypatch.setenv("REPAIR_LINT_WORKERS", "3")
    monkeypatch.setenv("REPAIR_ENV", "production")
    assert linter.reproduce_settings().workers == 3 and linter.reproduce_settings().executor == "spark"
    assert LinterResource(workers=5, executor=LintExecutor.serial).reproduce_settings().workers == 5
    monkeypatch.setenv("REPAIR_LINT_WORKERS", "three")
    try:
        linter.reproduce_settings()
    except dg.DagsterInvalidConfigError as error:
        assert "REPAIR_LINT_WORKERS" in str(error)
    else:
        raise AssertionError("a malformed variable must be refused with its name")
