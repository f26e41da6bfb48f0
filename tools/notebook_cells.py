"""The generated markdown cells of every lesson and exercise source, rewritten by `python tools/build.py`.

Each is found by its tag (cell metadata "tags") and made from `build.site_pages()`, so a new lesson or exercise
updates every link: a Colab badge at the top (with "Save a copy in Drive" in lesson 00 and the exercises; tagged
"remove-cell" too, so the website, which has its own launch buttons, leaves it out), links to the lesson's
exercises (or the exercise's lesson) and to the next lesson at the end, and lesson 00's course map. Code cells
and their outputs are never touched.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tools import build
from tools.build import _cell_text

TOP, NEXT, COURSE_MAP = "course-top", "course-next", "course-map"
BADGE = "https://colab.research.google.com/assets/colab-badge.svg"
SAVE_COPY = ("**Working in Colab?** First choose *File → Save a copy in Drive*, and work in that copy: Colab does "
             "not keep changes made to the course's own copy.")
HAND_IN = " Your copy is also the notebook you hand in."


def _student_view(notebook: Path) -> Path:
    """What a notebook is seen as: an exercise source as its student version, anything else as itself."""
    if notebook.resolve().parent == build.EXERCISES.resolve():
        return build.STUDENT / notebook.name
    return notebook


def _link(page: build.Page, start: Path) -> str:
    """A page's title linked relative to `start`'s folder (Jupyter, the website), then its Colab address."""
    rel = Path(os.path.relpath(page.notebook.resolve(), start.resolve().parent)).as_posix()
    return f"[{page.title}]({rel}) ([open in Colab]({build.colab_url(page.notebook)}))"


def course_map(start: Path) -> str:
    """Lesson 00's course map: every lesson with its exercises, linked and with their Colab addresses."""
    rows = []
    for page in build.site_pages():
        if page.exercise:
            continue
        exercises = [_link(p, start) for p in build.site_pages() if p.exercise and p.number == page.number]
        lesson = f"{page.title} (this notebook)" if page.notebook == start else _link(page, start)
        rows.append(f"| {page.number} | {lesson} | {'<br>'.join(exercises) or '—'} |")
    return ("## The course map\n\n| # | Lesson | Exercises |\n|---|---|---|\n" + "\n".join(rows)
            + "\n\nEvery notebook also opens in Colab from the badge at its top.")


def generated_cells(notebook: Path) -> dict[str, str]:
    """The generated markdown cells a lesson or exercise source must hold: tag -> text."""
    view = _student_view(notebook)
    exercise = view != notebook
    top = f"[![Open In Colab]({BADGE})]({build.colab_url(view)})"
    if exercise or notebook.stem.startswith("00"):
        top += "\n\n" + SAVE_COPY + (HAND_IN if exercise else "")
    lessons = [p for p in build.site_pages() if not p.exercise]
    number = view.stem[:2]
    later = [p for p in lessons if p.number > number]
    nxt = [f"**Next lesson:** {_link(later[0], view)}" if later else "**This was the last lesson.**"]
    if exercise:
        nxt.insert(0, "**Back to the lesson:** " + "".join(_link(p, view) for p in lessons if p.number == number))
    else:
        own = [_link(p, view) for p in build.site_pages() if p.exercise and p.number == number]
        nxt[:0] = [f"**Exercises for this lesson:** {', '.join(own)}"] if own else []
    cells = {TOP: top, NEXT: "---\n\n" + "\n\n".join(nxt)}
    if notebook.stem.startswith("00") and not exercise:
        cells[COURSE_MAP] = course_map(view)
    return cells


def _tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


def sync_generated_cells(notebook: Path, check: bool) -> bool:
    """Write the notebook's generated cells where they belong; True if they were (or would be) changed."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = nb["cells"]
    before = json.dumps(cells)
    wanted = generated_cells(notebook)
    cells[:] = [c for c in cells if not ({TOP, NEXT, COURSE_MAP} - set(wanted)) & set(_tags(c))]  # no longer due
    for tag, text in wanted.items():
        found = next((c for c in cells if tag in _tags(c)), None)
        if found is None:
            found = {"cell_type": "markdown", "id": tag,
                     "metadata": {"tags": [tag, "remove-cell"] if tag == TOP else [tag]}, "source": []}
            old_map = next((i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
                            and _cell_text(c).startswith("## The course map")), None)
            if tag == COURSE_MAP and old_map is not None:  # the hand-written map this cell replaces
                found["id"] = cells[old_map].get("id", tag)
                cells[old_map] = found
            elif tag == TOP:  # first, after otter's ASSIGNMENT CONFIG (a raw cell) in an exercise source
                cells.insert(1 if cells and cells[0]["cell_type"] == "raw" else 0, found)
            else:
                cells.append(found)
        found["source"] = text.splitlines(keepends=True)
    if json.dumps(cells) == before:
        return False
    if not check:
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8", newline="\n")
    return True

