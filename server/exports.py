"""Downloads shared by the API and the console: report rows as CSV by their marshmallow schema, files."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

from flask import Response, stream_with_context


def download(content: bytes, mimetype: str, filename: str) -> Response:
    """``content`` as a file download named ``filename``."""
    return Response(content, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def csv_download(rows: list[dict], schema, filename: str) -> Response:
    """Rows as CSV with the schema's fields as columns (UTF-8 with BOM so spreadsheets read Chinese names)."""
    columns = list(schema().fields)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(schema(many=True).dump(rows))
    return download(out.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8", filename)


def csv_stream_download(header: Sequence, rows: Iterable[Sequence], filename: str) -> Response:
    """Rows streamed as a CSV download (UTF-8 with BOM), for exports too large to build in memory."""

    def chunks():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        yield "\ufeff" + buffer.getvalue()
        for row in rows:
            buffer.seek(0), buffer.truncate()
            writer.writerow(row)
            yield buffer.getvalue()

    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(stream_with_context(chunks()), mimetype="text/csv; charset=utf-8", headers=headers)
