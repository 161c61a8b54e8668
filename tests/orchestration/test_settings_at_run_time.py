"""The teacher LM, Triton and Spark resources read their settings when a run uses them: an operator
who changes a variable after the code location loaded sees it in the next run, without reloading."""

import dagster as dg

from jobs.definitions import build_definitions

CHANGED = {
    "REPAIR_TEACHER_MODEL": "openai/changed",
    "REPAIR_TEACHER_API_BASE": "http://changed:8000/v1",
    "REPAIR_TEACHER_API_KEY": "changed-key",
    "REPAIR_TEACHER_CONCURRENCY": "7",
    "REPAIR_TEACHER_TIMEOUT_S": "9",
    "REPAIR_TRITON_URL": "changed:8001",
    "REPAIR_TRITON_URLS": "a:8001, b:8001",
    "REPAIR_TRITON_METRICS_URL": "http://changed:8002/metrics",
    "REPAIR_TRITON_INSTANCE_KIND": "KIND_CPU",
    "REPAIR_TRITON_INSTANCE_COUNT": "3",
    "REPAIR_SPARK_MASTER": "spark://changed:7077",
    "REPAIR_SPARK_CONF": '{"spark.executor.memory": "3g"}',
}


def _what_a_run_sees(defs: dg.Definitions) -> dict:
    seen = {}

    @dg.asset
    def settings_probe(teacher_lm: dg.ResourceParam, triton: dg.ResourceParam, spark: dg.ResourceParam):
        seen["teacher"] = teacher_lm.configured
        if teacher_lm.configured:
            lm = teacher_lm.build_lm()
            seen.update({"model": lm.model, "api_base": lm.kwargs["api_base"], "api_key": lm.kwargs["api_key"],
                         "timeout": lm.kwargs["timeout"]})  # fmt: skip
        serving = triton.serving_config()
        with triton.connect() as connection:
            seen["replicas"] = connection.replicas
            seen["metrics"] = connection.metrics_url
        seen["workers"] = teacher_lm.concurrency()
        seen["instances"] = (serving.instance_kind, serving.instance_count)
        seen["spark"] = spark.session_config()

    names = ("teacher_lm", "triton", "spark")
    result = dg.materialize([settings_probe], resources={n: defs.resources[n] for n in names}, raise_on_error=True)
    assert result.success
    return seen


def test_teacher_triton_and_spark_settings_changed_after_load_reach_the_next_run(monkeypatch):
    env = "production"  # where these settings matter: remote Triton, a Spark cluster
    for name in CHANGED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REPAIR_ENV", env)
    monkeypatch.setenv("REPAIR_TEACHER_MODEL", "openai/at-load")
    monkeypatch.setenv("REPAIR_TRITON_URL", "at-load:8001")
    monkeypatch.setenv("REPAIR_GCS_BUCKET", "bucket")
    defs = build_definitions(env)  # the code location, loaded once
    for name, value in CHANGED.items():
        monkeypatch.setenv(name, value)
    seen = _what_a_run_sees(defs)
    assert seen["model"] == "openai/changed" and seen["api_base"] == "http://changed:8000/v1"
    assert seen["api_key"] == "changed-key" and seen["timeout"] == 9.0 and seen["workers"] == 7
    assert seen["replicas"] == ("a:8001", "b:8001") and seen["metrics"] == "http://changed:8002/metrics"
    assert seen["instances"] == ("KIND_CPU", 3)
    assert seen["spark"]["spark.master"] == "spark://changed:7077"
    assert seen["spark"]["spark.executor.memory"] == "3g"

    # Unset again: the defaults of the environment, read at run time too.
    for name in CHANGED:
        monkeypatch.delenv(name)
    monkeypatch.setenv("REPAIR_TRITON_URL", "only:8001")
    seen = _what_a_run_sees(defs)
    assert seen["replicas"] == ("only:8001",) and seen["instances"] == ("KIND_GPU", 1)
    assert seen["spark"]["spark.master"] == "local[*]" and not seen["teacher"]
