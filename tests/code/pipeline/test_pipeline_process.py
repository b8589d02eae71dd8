"""A run's process: a killed run reads as stopped, a live one cannot be resumed beside itself."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tiny_trainer

from amlstack.errors import UserError
from amlstack.pipeline import process, stages

HERE = Path(__file__).resolve().parent
CLI = [sys.executable, "-m", "amlstack.cli"]


def _config(tmp_path: Path, data: Path) -> stages.RunConfig:
    return stages.RunConfig(
        data=str(data), runs=str(tmp_path / "runs"), registry=str(tmp_path / "registry"),
        artifacts=str(tmp_path / "artifacts"),
    )  # fmt: skip


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the stalled trainer never started"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_killed_run_reads_as_stopped_and_resumes_from_its_stage(tmp_path, first_rows):
    signal_file = tmp_path / "training-began"
    env = {**os.environ, "PYTHONPATH": str(HERE), "STALLED_SIGNAL": str(signal_file)}
    opts = ["--runs", "runs", "--registry", "registry", "--artifacts", "artifacts"]
    proc = subprocess.Popen(
        [*CLI, "pipeline", "run", "--data", str(first_rows), *opts, "--run-id", "r1",
         "--trainer", "tiny_trainer:stalled_trainer"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        _wait_for(signal_file, proc)
        live = subprocess.run(
            [*CLI, "pipeline", "status", "r1", "--runs", "runs", "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        assert json.loads(live.stdout)["status"] == "running"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)

    status = subprocess.run(  # a narrow terminal: the resume command stays on one line
        [*CLI, "pipeline", "status", "r1", "--runs", "runs"], env={**os.environ, "COLUMNS": "50"},
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert "status stopped at stage train: its process" in status.stdout
    assert "amlstack pipeline run --from train --run-id r1" in status.stdout
    resumed = subprocess.run(
        [*CLI, "pipeline", "run", *opts, "--from", "train", "--run-id", "r1",
         "--trainer", "tiny_trainer:trainer"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    record = json.loads((tmp_path / "runs" / "r1" / "run.json").read_text())
    assert record["status"] == "done" and set(record["stages"].values()) == {"done"}


def test_a_run_held_by_a_live_process_is_not_resumed_beside_it(tmp_path, first_rows):
    cfg = _config(tmp_path, first_rows)
    run = stages.create_run(cfg, "r1")
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run.update_record(status="running", process=process.of(holder.pid))
        with pytest.raises(UserError, match=f"still running \\(pid {holder.pid} on "):
            stages.run_pipeline(run, trainer=tiny_trainer.trainer)
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert stages.run_state(run.record()) == "stopped"
    resumed = stages.open_run(Path(cfg.runs), "r1")
    record = stages.run_pipeline(resumed, trainer=tiny_trainer.trainer)
    assert record["status"] == "done"


def test_a_reused_pid_is_not_the_recorded_process():
    info = process.current()
    if "start_tick" not in info:
        pytest.skip("no /proc on this system")
    # same pid, other start tick: a later process given the dead one's pid (or this process,
    # in another container of the same host name)
    assert process.alive({**info, "start_tick": info["start_tick"] - 1}) is False
    assert not process.is_current({**info, "start_tick": info["start_tick"] - 1})
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process.alive(process.of(other.pid)) is True
        assert process.alive({**info, "pid": other.pid}) is False
        # without a start tick, a live process may be another with the same pid: cannot tell
        assert process.alive({"host": info["host"], "pid": other.pid}) is None
    finally:
        other.kill()
        other.wait(timeout=30)
    assert process.alive({**info, "host": "another-machine"}) is None


def test_a_run_driven_stage_by_stage_is_done_when_its_stages_are(tmp_path, first_rows):
    """`pipeline stage`, as Azure ML components run it, records no run status of its own."""
    run = stages.create_run(_config(tmp_path, first_rows), "r1")
    for stage in stages.STAGES[:2]:
        stages.run_stage(run, stage, tiny_trainer.trainer)
        assert stages.run_state(run.record()) == "running"  # between two components
    for stage in stages.STAGES[2:]:
        stages.run_stage(run, stage, tiny_trainer.trainer)
    assert stages.run_state(run.record()) == "done"


def test_ctrl_c_between_stages_records_where_to_resume(tmp_path, first_rows):
    def progress(stage, event):
        if (stage, event) == ("validate_data", "done"):
            raise KeyboardInterrupt  # in the caller's progress display

    run = stages.create_run(_config(tmp_path, first_rows), "r1")
    with pytest.raises(KeyboardInterrupt):
        stages.run_pipeline(run, trainer=tiny_trainer.trainer, on_stage=progress)
    record = run.record()
    assert record["status"] == "interrupted" and record["failed_stage"] == "train"
    assert stages.resume_stage(record) == "train"


def test_an_interrupted_run_records_it(tmp_path, first_rows):
    def interrupted(data, out, config):
        raise KeyboardInterrupt

    run = stages.create_run(_config(tmp_path, first_rows), "r1")
    with pytest.raises(KeyboardInterrupt):
        stages.run_pipeline(run, trainer=interrupted)
    record = run.record()
    assert record["status"] == "interrupted" and record["failed_stage"] == "train"
    assert record["stages"]["train"] == "interrupted"


def test_a_run_without_drift_cannot_resume_from_the_drift_stage(tmp_path, first_rows):
    run = stages.create_run(_config(tmp_path, first_rows), "r1")
    with pytest.raises(UserError, match=r"run r1 has no such stage \(it was started without"):
        stages.run_pipeline(run, start=stages.DRIFT_STAGE, trainer=tiny_trainer.trainer)
    assert run.record().get("status") is None  # refused before anything was claimed
    said = subprocess.run(
        [*CLI, "pipeline", "run", "--from", "drift", "--run-id", "r1", "--runs", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert said.returncode == 2
    assert said.stderr.strip().startswith("error: --from drift: run r1 has no such stage")
    assert "resume" not in said.stderr  # no resume command: nothing failed


def test_two_processes_resuming_one_run_at_once_do_not_both_claim_it(tmp_path, first_rows):
    """The check that a run is free and the claim are one step: a process that checked while
    another was between its check and its claim ran beside it."""
    pytest.importorskip("fcntl")
    run = stages.create_run(_config(tmp_path, first_rows), "r1")
    checked = tmp_path / "checked"
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import pathlib, sys, time\n"
            "from amlstack.pipeline import process, stages\n"
            "run = stages.open_run(pathlib.Path(sys.argv[1]), 'r1')\n"
            "with stages.claim_lock(run):\n"
            "    stages._free_record(run)\n"
            "    pathlib.Path(sys.argv[2]).touch()\n"
            "    time.sleep(1.5)  # between its check and its claim\n"
            "    run.update_record(status='running', process=process.current())\n"
            "time.sleep(60)\n"
        ), str(tmp_path / "runs"), str(checked)],
    )  # fmt: skip
    try:
        _wait_for(checked, holder, seconds=60)
        with pytest.raises(UserError, match=f"still running \\(pid {holder.pid} on "):
            stages.run_pipeline(run, trainer=tiny_trainer.trainer)
        assert run.record().get("stages", {}) == {}  # refused before it ran a stage beside it
    finally:
        holder.kill()
        holder.wait(timeout=30)
