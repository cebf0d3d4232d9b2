"""Number exercises and figures within their chapter: "Exercise 1" and "Fig. 1" are each chapter's first.

Sphinx numbers enumerable nodes (figures, and sphinx-exercise's exercises) across the whole book when the table of
contents is not numbered, so a later chapter's exercises would start at 28. After Sphinx has assigned its numbers
(``env-get-updated``), this renumbers each page's exercises and figures 1, 2, ... in their order on the page;
captions, solutions and references read the same numbers.
"""

PER_PAGE = ("exercise", "figure")


def number_per_page(app, env):
    for figure_numbers in env.toc_fignumbers.values():
        for kind in PER_PAGE:
            numbers = figure_numbers.get(kind)
            if numbers:
                in_order = sorted(numbers, key=numbers.get)
                figure_numbers[kind] = {label: (number,) for number, label in enumerate(in_order, start=1)}
    return []


def setup(app):
    # After Sphinx's own TocTreeCollector (priority 500), which assigns the book-wide numbers.
    app.connect("env-get-updated", number_per_page, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
