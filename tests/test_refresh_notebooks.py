"""Tests for tools/refresh_notebooks.py that need no kernel: normalising volatile metadata, the kernel environment."""

import importlib.util
from pathlib import Path

import nbformat
from nbformat import v4

TOOL = Path(__file__).resolve().parent.parent / "tools" / "refresh_notebooks.py"
_spec = importlib.util.spec_from_file_location("refresh_notebooks", TOOL)
refresh_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refresh_notebooks)

TIMING = {
    "iopub.execute_input": "2026-01-02T03:04:05.000001Z",
    "iopub.status.busy": "2026-01-02T03:04:05.000000Z",
    "iopub.status.idle": "2026-01-02T03:04:06.000000Z",
    "shell.execute_reply": "2026-01-02T03:04:06.000002Z",
}


def executed_notebook(timing):
    """A notebook as nbclient leaves it: outputs, execution counts and (when timed) timing metadata."""
    notebook = v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [
        v4.new_markdown_cell("# Title"),
        v4.new_code_cell(
            "print(1)",
            execution_count=1,
            outputs=[v4.new_output("stream", name="stdout", text="1\n")],
            metadata={"tags": ["keep-me"], "execution": dict(timing)},
        ),
        v4.new_code_cell("x = 2", execution_count=2, metadata={"ExecuteTime": {"end_time": timing["iopub.status.idle"]}}),
    ]
    notebook.metadata["papermill"] = {"start_time": timing["iopub.status.busy"]}
    return notebook


def test_normalise_drops_timing_and_keeps_everything_else():
    notebook = executed_notebook(TIMING)
    ids = [cell.id for cell in notebook.cells]
    refresh_notebooks.normalise(notebook)
    assert [cell.id for cell in notebook.cells] == ids
    assert all("execution" not in cell.metadata and "ExecuteTime" not in cell.metadata for cell in notebook.cells)
    assert "papermill" not in notebook.metadata
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert notebook.cells[1].metadata["tags"] == ["keep-me"]
    assert notebook.cells[1].outputs[0].text == "1\n"
    assert [cell.get("execution_count") for cell in notebook.cells] == [None, 1, 2]


def test_two_refreshes_with_different_timings_write_identical_files(tmp_path):
    later = {key: value.replace("2026-01-02", "2026-03-04") for key, value in TIMING.items()}
    first, second = executed_notebook(TIMING), executed_notebook(later)
    second.cells = [
        nbformat.from_dict({**dict(new), "id": old.id}) for old, new in zip(first.cells, second.cells)
    ]
    for name, notebook in (("first.ipynb", first), ("second.ipynb", second)):
        nbformat.write(refresh_notebooks.normalise(notebook, nbformat_minor=5), tmp_path / name)
    assert (tmp_path / "first.ipynb").read_text() == (tmp_path / "second.ipynb").read_text()


def test_normalise_restores_the_minor_version():
    notebook = executed_notebook(TIMING)
    refresh_notebooks.normalise(notebook, nbformat_minor=5)
    assert notebook.nbformat_minor == 5 and all("id" in cell for cell in notebook.cells)
    nbformat.validate(notebook)

    old = executed_notebook(TIMING)
    refresh_notebooks.normalise(old, nbformat_minor=4)
    assert old.nbformat_minor == 4 and not any("id" in cell for cell in old.cells)
    nbformat.validate(old)


def test_kernel_environment_selects_quick_profile_and_inline_plots(monkeypatch):
    monkeypatch.setenv("RESNET_LESSONS_PROFILE", "paper")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    env = refresh_notebooks.kernel_environment()
    assert env["RESNET_LESSONS_PROFILE"] == "quick"
    assert "MPLBACKEND" not in env


def test_command_line_rejects_a_missing_notebook(tmp_path, capsys):
    try:
        refresh_notebooks.main([str(tmp_path / "missing.ipynb")])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "missing.ipynb" in capsys.readouterr().err


def test_tensorflow_start_up_lines_are_dropped_and_other_stderr_kept():
    log = (
        "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
        "I0000 00:00:1795913288.289861   10174 port.cc:153] oneDNN custom operations are on.\n"
        "E0000 00:00:1795913290.234258   10174 cuda_platform.cc:52] failed call to cuInit: INTERNAL\n"
        "To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the "
        "appropriate compiler flags.\n"
    )
    outputs = [
        v4.new_output("stream", name="stderr", text=log),
        v4.new_output("stream", name="stderr", text=log + "UserWarning: something real\n"),
        v4.new_output("stream", name="stdout", text="I0000 00:00:1.0 1 a.cc:1] printed by the user\n"),
    ]
    kept = refresh_notebooks.drop_tensorflow_log_lines(outputs)
    assert [output["text"] for output in kept] == ["UserWarning: something real\n",
                                                   "I0000 00:00:1.0 1 a.cc:1] printed by the user\n"]


def test_consecutive_pieces_of_a_stream_are_merged():
    outputs = [
        v4.new_output("stream", name="stdout", text="epoch 1\n"),
        v4.new_output("stream", name="stdout", text="epoch 2\n"),
        v4.new_output("stream", name="stderr", text="warning\n"),
        v4.new_output("stream", name="stdout", text="epoch 3\n"),
        v4.new_output("display_data", data={"text/plain": "<Figure>"}),
        v4.new_output("stream", name="stdout", text="done\n"),
    ]
    merged = refresh_notebooks.merge_streams(outputs)
    assert [output.get("text", "figure") for output in merged] == ["epoch 1\nepoch 2\n", "warning\n", "epoch 3\n",
                                                                  "figure", "done\n"]


def test_command_line_refuses_to_refresh_without_cifar10(tmp_path, capsys, monkeypatch):
    from resnet_lessons import cifar10

    path = tmp_path / "chapter.ipynb"
    nbformat.write(executed_notebook(TIMING), path)
    before = path.read_text()
    monkeypatch.setattr(cifar10, "availability", lambda: (False, "nothing here; set RESNET_LESSONS_CIFAR10_FOLDER"))
    assert refresh_notebooks.main([str(path)]) == 1
    error = capsys.readouterr().err
    assert "made on CIFAR-10" in error and "RESNET_LESSONS_CIFAR10_FOLDER" in error
    assert path.read_text() == before  # nothing was executed or written


def test_store_option_keeps_one_run_store_for_the_kernels(tmp_path, monkeypatch):
    from resnet_lessons import cifar10

    path = tmp_path / "chapter.ipynb"
    nbformat.write(executed_notebook(TIMING), path)
    store = tmp_path / "runs"
    seen = []
    monkeypatch.setattr(cifar10, "availability", lambda: (True, "a test double"))

    def execute_notebook(_path):
        seen.append(refresh_notebooks.os.environ["RESNET_LESSONS_RUN_STORE"])
        return 0.0

    monkeypatch.setattr(refresh_notebooks, "execute_notebook", execute_notebook)
    assert refresh_notebooks.main(["--store", str(store), str(path), str(path)]) == 0
    assert seen == [str(store.resolve())] * 2
    assert store.is_dir()  # kept after the call
