"""Number the exercises within their chapter: "Exercise 1" is each chapter's first exercise.

Sphinx numbers an enumerable node (sphinx-exercise's exercises are one) across the whole book when the table of
contents is not numbered, so a later chapter's exercises would start at 28. After Sphinx has assigned its numbers
(``env-get-updated``), this renumbers each page's exercises 1, 2, ... in their order on the page; solutions and
references read the same numbers.
"""


def number_exercises_per_page(app, env):
    for figure_numbers in env.toc_fignumbers.values():
        exercises = figure_numbers.get("exercise")
        if exercises:
            in_order = sorted(exercises, key=exercises.get)
            figure_numbers["exercise"] = {label: (number,) for number, label in enumerate(in_order, start=1)}
    return []


def setup(app):
    # After Sphinx's own TocTreeCollector (priority 500), which assigns the book-wide numbers.
    app.connect("env-get-updated", number_exercises_per_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
