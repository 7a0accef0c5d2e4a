"""The per-case callback record as a Word document, laid out like the Zhashui callback form.

The same table as the paper form (案由, 受援人姓名, 案件承办人, 结案时间, 回访日期, then the four
questions with their tick boxes), filled from the case and its completed callback. A case not
called back yet gives the blank form with the case's details, ready to print for a phone call
or a visit. python-docx is synchronous and small documents take milliseconds; it still runs in a
worker thread so a burst of downloads never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass, replace

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from handlers.records.exports import local
from models.callback import Callback, CallbackStatus

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TITLE = "法律援助案件电话回访登记表"  # Zhashui 附件; the same form records visits too
# The form's opening paragraph, read to the recipient before the questions (Zhashui 附件).
OPENING = (
    "法律援助中心根据《中华人民共和国法律援助法》《司法部办理法律援助案件程序规定》"
    "要求对您进行回访，对法律援助案件承办人提出监督意见，"
    "感谢您对我们工作的支持和帮助。"
)
FONT = "宋体"  # the font of Chinese government forms; Word substitutes where it is missing
CHECKED, UNCHECKED = "☑", "□"
CHANNEL = {"wechat": "微信", "phone": "电话", "visit": "走访"}
Q1 = "一、承办人员是否向您收取费用，或者以其他方式索要钱物？"
Q2 = "二、承办人员是否存在故意拖延办案，或者冷漠对待（压案不办、门难进、脸难看）的情况？"
Q3 = "三、您对案件的办理是否满意？"
Q4 = "四、您对法律援助工作的意见和建议："


@dataclass(frozen=True, slots=True)
class FormData:
    case_no: str
    cause: str
    beneficiary: str
    handler: str
    closed_on: str
    called_on: str = ""
    channel: str = ""
    called_by: str = ""
    fee_charged: bool | None = None
    fee_details: str = ""
    negligent: bool | None = None
    negligent_details: str = ""
    satisfied: bool | None = None
    comments: str = ""


def _boxes(value: bool | None, yes: str, no: str) -> str:
    mark = (
        (UNCHECKED, UNCHECKED)
        if value is None
        else (CHECKED, UNCHECKED)
        if value
        else (UNCHECKED, CHECKED)
    )
    return f"{mark[0]}{yes}    {mark[1]}{no}"


def _set_font(document) -> None:
    style = document.styles["Normal"]
    style.font.name = FONT
    style.font.size = Pt(12)
    style.element.rPr.rFonts.set(qn("w:eastAsia"), FONT)  # CJK text uses the eastAsia font


def render(form: FormData) -> bytes:
    """The filled form as .docx bytes."""
    document = Document()
    _set_font(document)
    title = document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = title.add_run(TITLE)
    run.bold = True
    run.font.size = Pt(18)
    document.add_paragraph(f"案号：{form.case_no}")

    table = document.add_table(rows=0, cols=4)
    table.style = "Table Grid"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for pair in (
        ("案由", form.cause, "受援人姓名", form.beneficiary),
        ("案件承办人", form.handler, "结案时间", form.closed_on),
        ("回访日期", form.called_on, "回访方式", form.channel),
    ):
        cells = table.add_row().cells
        for cell, text in zip(cells, pair, strict=True):
            cell.text = text
    questions = (
        (Q1, f"{_boxes(form.fee_charged, '是', '否')}    情况说明：{form.fee_details}"),
        (Q2, f"{_boxes(form.negligent, '有', '无')}    情况说明：{form.negligent_details}"),
        (Q3, _boxes(form.satisfied, "满意", "不满意")),
        (Q4, form.comments),
    )
    opening = table.add_row()
    opening.cells[0].merge(opening.cells[3]).text = OPENING
    for question, answer in questions:
        for text, bold in ((question, True), (answer, False)):
            row = table.add_row()
            merged = row.cells[0].merge(row.cells[3])
            merged.text = ""
            merged.paragraphs[0].add_run(text).bold = bold

    document.add_paragraph()
    document.add_paragraph(
        f"回访人：{form.called_by or '__________'}        受援人（签名）：__________"
    )
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


async def callback_form(case, tz: str) -> bytes:
    """The form for `case` (a models.case.Case), filled from its completed callback if any."""
    cb = await Callback.get_or_none(case_id=case.id)
    form = FormData(
        case_no=case.case_no,
        cause=case.cause,
        beneficiary=case.beneficiary_name,
        handler=f"{case.handler_name}（{case.handler_org}）",
        closed_on=case.closed_on.isoformat() if case.closed_on else "",
    )
    if cb is not None and cb.status == CallbackStatus.COMPLETED:
        answered = local(cb.answered_at, tz)
        form = replace(
            form,
            called_on=answered.date().isoformat() if answered else "",
            channel=CHANNEL.get(cb.channel or "", cb.channel or ""),
            called_by=cb.called_by or ("受援人微信自助回访" if cb.channel == "wechat" else ""),
            fee_charged=cb.fee_charged,
            fee_details=cb.fee_details or "",
            negligent=cb.negligent,
            negligent_details=cb.negligent_details or "",
            satisfied=cb.satisfied,
            comments=cb.comments or "",
        )
    return await asyncio.to_thread(render, form)
