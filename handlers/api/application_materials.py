"""Upload a material (photo or scan) to one of my applications: multipart `kind` + `file`.

The type is sniffed from the bytes (JPEG, PNG or PDF); the declared Content-Type and file name
are ignored, so a renamed executable is refused. The body is read in chunks and cut off at
10 MB, so an oversized upload costs no more than that. An upload of a kind that was owed
(容缺受理) marks it provided.
"""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import BodyPartReader, MultipartReader, web

from bot.api import ApiError, json_ok, operation, request_locale
from bot.auth import require_agent
from bot.storage import MAX_UPLOAD, sniff, storage_key
from handlers.api.application_schemas import MaterialUploaded
from handlers.api.application_views import material_out, missing_of
from handlers.api.applications import own_application
from i18n import t
from models.application import Material
from models.codes import MATERIAL_KINDS

CHUNK = 64 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries, headers and the kind field around the file
KIND_MAX = 1024  # a kind is a short code; more is not a kind (and is not kept in memory)


async def read_form(request: web.Request) -> dict[str, Any]:
    """`kind` and `file` of a multipart body, read to its end however slowly it arrives.

    Anything that is not one flat multipart/form-data body (no boundary, a broken one, a part
    that is itself multipart) is 400; a `kind` that is not UTF-8 text is simply not a kind (422).
    """
    if (
        request.content_length is not None
        and request.content_length > MAX_UPLOAD + MULTIPART_OVERHEAD
    ):
        raise ApiError(413, "too_large", max_mb=MAX_UPLOAD // (1024 * 1024))
    try:
        reader = await request.multipart()
        return await _parts(reader)
    except (AssertionError, ValueError, LookupError, TypeError):  # aiohttp's parse errors
        raise ApiError(400, "multipart_required") from None


async def _parts(reader: MultipartReader) -> dict[str, Any]:
    form: dict[str, Any] = {}
    budget = MAX_UPLOAD + MULTIPART_OVERHEAD  # all parts together, chunked bodies included
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):  # a nested multipart/mixed
            raise ApiError(400, "multipart_required")
        keep = MAX_UPLOAD if part.name == "file" else KIND_MAX if part.name == "kind" else 0
        data = bytearray()
        while chunk := await part.read_chunk(CHUNK):
            budget -= len(chunk)
            if budget < 0 or (part.name == "file" and len(data) + len(chunk) > MAX_UPLOAD):
                raise ApiError(413, "too_large", max_mb=MAX_UPLOAD // (1024 * 1024))
            data += chunk[: max(0, keep + 1 - len(data))]  # a kind longer than KIND_MAX is cut
        if part.name == "file":
            form["file"] = bytes(data)
        elif part.name == "kind":
            try:
                form["kind"] = None if len(data) > KIND_MAX else data.decode("utf-8").strip()
            except UnicodeDecodeError:
                form["kind"] = None  # refused below as an unknown kind
    return form


@operation(
    "POST",
    "/api/v1/applications/{id}/materials",
    summary="Attach a material: multipart/form-data with `kind` and `file` "
    "(JPEG, PNG or PDF, at most 10 MB)",
    tag="applications",
    response=MaterialUploaded,
    status=201,
    auth="bearer",
    form=(("kind", "string"), ("file", "binary")),
    errors=(400, 403, 404, 413, 415, 422),
)
async def upload(request: web.Request) -> web.Response:
    agent = await require_agent(request)
    row = await own_application(request, agent)
    form = await read_form(request)
    locale = request_locale(request)
    fields = {}
    if form.get("kind") not in MATERIAL_KINDS:
        fields["kind"] = t("violation.materials.kind", locale)
    if not form.get("file"):
        fields["file"] = t("validation.missing", locale)
    if fields:
        raise ApiError(422, "validation", fields=fields)
    data: bytes = form["file"]
    sniffed = sniff(data[:16])
    if sniffed is None:
        raise ApiError(415, "unsupported_media_type")
    content_type, ext = sniffed
    key = await request.app[storage_key].put(str(row.id), ext, data)
    material = await Material.create(
        application_id=row.id,
        kind=form["kind"],
        status="provided",
        source="upload",
        storage_key=key,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    await Material.filter(application_id=row.id, kind=form["kind"], status="missing").update(
        status="provided"
    )
    materials = await Material.filter(application_id=row.id).order_by("id")
    return json_ok(
        MaterialUploaded(material=material_out(material), missing_materials=missing_of(materials)),
        status=201,
    )
