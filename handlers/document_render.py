"""A formal letter as a Word document, laid out like SF/T 0024's templates.

Title centred in large bold type, the number under it on the right, the addressee, the body
paragraphs indented two characters, then the issuing centre and the date on the right, as the
printed forms are. python-docx is synchronous: callers run `render` in a worker thread.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
FONT = "仿宋"  # body font of government letters (GB/T 9704); Word substitutes where missing
TITLE_FONT = "宋体"
BODY_PT, TITLE_PT = 16, 22  # 三号 body, 二号 title, as GB/T 9704 sets them


@dataclass(frozen=True, slots=True)
class Letter:
    title: str
    number: str
    addressee: str
    paragraphs: list[str]
    issuer: str
    date: str  # 2026年11月29日
    items: list[str] = field(default_factory=list)  # numbered list after the first paragraph
    footer: list[str] = field(default_factory=list)  # e.g. 抄送 lines


def _font(run, name: str, size: int, bold: bool = False) -> None:
    run.font.name, run.font.size, run.bold = name, Pt(size), bold
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), name)


def _para(
    document,
    text: str,
    *,
    align=None,
    indent: bool = False,
    bold: bool = False,
    size: int = BODY_PT,
    font: str = FONT,
) -> None:
    p = document.add_paragraph()
    if align is not None:
        p.alignment = align
    if indent:
        p.paragraph_format.first_line_indent = Pt(size * 2)
    _font(p.add_run(text), font, size, bold)


def render(letter: Letter) -> bytes:
    """The letter as .docx bytes."""
    document = Document()
    _para(
        document,
        letter.title,
        align=WD_ALIGN_PARAGRAPH.CENTER,
        bold=True,
        size=TITLE_PT,
        font=TITLE_FONT,
    )
    _para(document, letter.number, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(document, letter.addressee + "：")
    for i, text in enumerate(letter.paragraphs):
        _para(document, text, indent=True)
        if i == 0:
            for n, item in enumerate(letter.items, start=1):
                _para(document, f"{n}. {item}", indent=True)
    document.add_paragraph()
    _para(document, letter.issuer, align=WD_ALIGN_PARAGRAPH.RIGHT)
    _para(document, letter.date, align=WD_ALIGN_PARAGRAPH.RIGHT)
    for line in letter.footer:
        _para(document, line, size=14)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def text_of(data: bytes) -> str:
    """All paragraphs of a .docx as text (for checks and tests)."""
    return "\n".join(p.text for p in Document(io.BytesIO(data)).paragraphs)
