"""Live progress: shown while work runs, gone from the stored output once it is done."""

import textwrap

import nbformat
import pytest
from nbclient import NotebookClient

from resnet_lessons import progress


def test_outside_a_notebook_the_header_and_spaced_status_lines_are_printed(capsys, monkeypatch):
    clock = iter([0.0, 10.0, 40.0, 45.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    status = progress.LiveStatus("Training plain-20", print_interval=30.0, notebook=False)
    status.update("about 50 s left")  # 10 s after the start: too soon, not printed
    status.update("about 20 s left")  # 40 s: printed
    status.update("about 15 s left")  # 45 s: too soon after the last one
    status.finish()
    assert capsys.readouterr().out == "Training plain-20\n  about 20 s left\n"
    monkeypatch.setattr(progress.time, "monotonic", lambda: 0.0)
    progress.LiveStatus("Training plain-20", notebook=False).finish("plain-20: 8 epochs in 40 s")
    assert capsys.readouterr().out == "Training plain-20\nplain-20: 8 epochs in 40 s\n"


def test_in_a_notebook_one_display_is_updated_and_ends_as_the_header(monkeypatch):
    shown = []

    class Handle:
        def update(self, content, raw):
            shown.append(("update", content["text/plain"]))

    def display(content, raw, display_id):
        assert raw and display_id is True
        shown.append(("display", content["text/plain"]))
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    status = progress.LiveStatus("Training plain-20", notebook=True)
    status.update("epoch 2 of 8, about 50 s left")
    status.finish()
    assert shown == [("display", "Training plain-20"),
                     ("update", "Training plain-20\n  epoch 2 of 8, about 50 s left"),
                     ("update", "Training plain-20")]
    shown.clear()
    progress.LiveStatus("Training plain-20", notebook=True).finish("plain-20: 8 epochs in 40 s")
    assert shown == [("display", "Training plain-20"), ("update", "plain-20: 8 epochs in 40 s")]


def test_outside_a_kernel_it_is_not_a_notebook():
    assert progress.in_notebook_kernel() is False


@pytest.mark.parametrize("kwargs, message", [({"header": 3}, "header"), ({"header": "h", "print_interval": -1},
                                                                           "print_interval")])
def test_bad_arguments_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        progress.LiveStatus(**kwargs)


@pytest.mark.slow  # about 20 s: a kernel, TensorFlow's import and three tiny epochs
def test_a_training_run_executed_in_a_notebook_stores_no_time_left(tmp_path):
    source = textwrap.dedent("""
        import dataclasses
        from resnet_lessons import data as datasets, models, profiles, seeding, train
        config = dataclasses.replace(profiles.QUICK, name="tiny", epochs=3, batch_size=32, train_examples=64,
                                     test_examples=32, image_size=8, decay_epochs=(), warmup_iterations=0)
        data = datasets.load_dataset("synthetic", num_train=64, num_test=32, seed=0, verbose=False)
        seeding.set_seed(0)
        history = train.train(models.resnet20(input_shape=config.input_shape), data, config, label="tiny-20")
    """)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
                   ).execute()
    outputs = notebook.cells[0].outputs
    displays = [output for output in outputs if output.output_type == "display_data"]
    (header,) = displays
    # the live display ends as the run's one summary line; the status line under it is gone
    assert header.data["text/plain"].startswith("tiny-20: 3 epochs in ")
    assert "\n" not in header.data["text/plain"] and "test error" in header.data["text/plain"]
    text = "".join(output.get("text", "") for output in outputs if output.output_type == "stream")
    assert "epoch" not in text
    assert " left" not in text and " left" not in header.data["text/plain"]
