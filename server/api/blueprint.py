"""The project's flask-smorest Blueprint: bounded pagination, documented as it is sent.

Every API module creates its ``blp`` from this class (a test checks that), so each list gets the same
limits: ``page`` from 1 to ``MAX_PAGE`` and ``page_size`` from 1 to the list's maximum (100 unless the
endpoint says otherwise, at most ``MAX_PAGE_SIZE``), so ``page × page_size`` stays far inside the 64-bit
offsets a database takes. ``X-Pagination`` is JSON text; the document says so (a header ``content``).
"""

from __future__ import annotations

import marshmallow as ma
from flask_smorest import Blueprint as SmorestBlueprint
from flask_smorest.pagination import PaginationMetadataSchema

MAX_PAGE = 1_000_000_000
MAX_PAGE_SIZE = 10_000


class Blueprint(SmorestBlueprint):
    """flask-smorest's Blueprint with the project's pagination limits."""

    def paginate(self, pager=None, *, page=None, page_size=None, max_page_size=None):
        if max_page_size is not None and max_page_size > MAX_PAGE_SIZE:
            raise ValueError(f"max_page_size may be at most {MAX_PAGE_SIZE}")
        decorate = super().paginate(pager, page=page, page_size=page_size, max_page_size=max_page_size)

        def decorator(func):
            wrapper = decorate(func)
            # flask-smorest builds the parameters schema per endpoint and reads it (parsing and documenting)
            # from this one class: bound its page number there.
            schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            default_page = schema._declared_fields["page"].load_default
            schema._declared_fields["page"] = ma.fields.Integer(
                load_default=default_page, validate=ma.validate.Range(min=1, max=MAX_PAGE)
            )
            return wrapper

        return decorator

    def _document_pagination_metadata(self, spec, resp_doc):
        """``X-Pagination`` carries the metadata object as JSON text (OpenAPI: a header with ``content``)."""
        resp_doc.setdefault("headers", {})[self.PAGINATION_HEADER_NAME] = {
            "description": "Pagination metadata, a JSON object",
            "content": {"application/json": {"schema": PaginationMetadataSchema}},
        }
