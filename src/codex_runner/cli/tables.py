"""Tables that fit the terminal without cutting an id or a state, and plain lines for pipes.

On a terminal, columns that identify something (ids, states, numbers) always show in full;
long text (prompts, commands, notes) shortens or wraps into what is left, and the least
useful columns (a workspace, a branch) are dropped first when even that does not fit. When
nothing fits, each row becomes a small block of ``name: value`` lines. When stdout is not
a terminal, the table is tab-separated: a header line, then one line per row, no colours
and nothing cut, so scripts can ``cut -f``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

GAP = 2  # columns between two cells: rich's default padding on each side, no outer edge


class Fit(Enum):
    """What a column may do when the terminal is narrow."""

    KEEP = "keep"  # never shortened: ids, states, numbers
    WRAP = "wrap"  # folds over several lines: commands, lists
    SHORTEN = "shorten"  # one line, cut with an ellipsis: prompts, notes, paths


@dataclass(frozen=True)
class Column:
    header: str
    fit: Fit = Fit.KEEP
    min_width: int = 0  # for WRAP and SHORTEN: narrower than this, drop the column instead
    drop_rank: int | None = None  # dropped when too narrow, lowest rank first; None: never


@dataclass(frozen=True)
class Cell:
    text: str
    style: str = ""


Row = Sequence[Cell | str]


def print_table(
    console: Console, columns: Sequence[Column], rows: Sequence[Row], *, empty: str = ""
) -> None:
    """Print ``rows`` under ``columns`` on ``console``: fitted to its width on a terminal,
    tab-separated lines otherwise. With no rows a terminal shows ``empty``; a pipe gets the
    header line alone."""
    cells = [[_cell(value) for value in row] for row in rows]
    if not console.is_terminal:
        _print_plain(console, columns, cells)
        return
    if not cells:
        console.print(Text(empty, style="dim"))
        return
    widths = fit_widths(columns, cells, console.width)
    if widths is None:
        _print_records(console, columns, cells)
        return
    table = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    shown = [i for i, width in enumerate(widths) if width is not None]
    for i in shown:
        column = columns[i]
        table.add_column(
            column.header,
            width=widths[i],
            no_wrap=column.fit is not Fit.WRAP,
            overflow="fold" if column.fit is Fit.WRAP else "ellipsis",
        )
    for row in cells:
        table.add_row(*(Text(row[i].text, style=row[i].style) for i in shown))
    console.print(table)


def fit_widths(
    columns: Sequence[Column], rows: Sequence[Sequence[Cell]], width: int
) -> list[int | None] | None:
    """Each column's width (None: dropped) so the table fits ``width``; None when it
    cannot fit even with every droppable column dropped."""
    natural = [
        max([cell_len(c.header)] + [cell_len(row[i].text) for row in rows])
        for i, c in enumerate(columns)
    ]
    least = [
        n if c.fit is Fit.KEEP else min(n, c.min_width)
        for c, n in zip(columns, natural, strict=True)
    ]
    kept = list(range(len(columns)))
    droppable = sorted(
        (i for i, c in enumerate(columns) if c.drop_rank is not None),
        key=lambda i: columns[i].drop_rank or 0,
    )

    def needed(indexes: list[int], sizes: list[int]) -> int:
        return sum(sizes[i] for i in indexes) + GAP * (len(indexes) - 1)

    # Drop columns only while even their narrowest form does not fit; prefer full text
    # of the remaining ones over keeping a column one character wide.
    while needed(kept, least) > width and droppable:
        kept.remove(droppable.pop(0))
    if needed(kept, least) > width:
        return None
    sizes = {i: least[i] for i in kept}
    spare = width - needed(kept, least)
    flexible = sorted((i for i in kept if natural[i] > least[i]), key=lambda i: natural[i])
    for n, i in enumerate(flexible):
        share = spare // (len(flexible) - n)
        grow = min(natural[i] - least[i], share)
        sizes[i] += grow
        spare -= grow
    return [sizes.get(i) for i in range(len(columns))]


def _print_plain(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]
) -> None:
    lines = ["\t".join(c.header for c in columns)]
    lines += ["\t".join(_one_field(cell.text) for cell in row) for row in rows]
    console.file.write("\n".join(lines) + "\n")
    console.file.flush()


def _print_records(
    console: Console, columns: Sequence[Column], rows: Sequence[Sequence[Cell]]
) -> None:
    """One block per row: the first column's value, then ``name: value`` lines."""
    for n, row in enumerate(rows):
        if n:
            console.print()
        console.print(Text(row[0].text, style=row[0].style or "bold"))
        for column, cell in zip(columns[1:], row[1:], strict=True):
            if cell.text:
                line = Text.assemble(f"  {column.header.lower()}: ", (cell.text, cell.style))
                console.print(line)


def _cell(value: Cell | str) -> Cell:
    return value if isinstance(value, Cell) else Cell(value)


def _one_field(text: str) -> str:
    """A value as one tab-separated field: tabs and line breaks become spaces."""
    return " ".join(text.replace("\t", " ").splitlines())
