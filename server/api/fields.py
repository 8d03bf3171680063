"""Strict marshmallow fields shared by the schemas: integers are integers, booleans are booleans."""

from __future__ import annotations

from marshmallow import fields, validate

from alliance_shared.money import MAX_AMOUNT_FEN

MAX_POINTS = 1_000_000_000


def Fen(**kwargs) -> fields.Integer:  # noqa: N802 - reads like a field class
    """An amount in fen: a JSON integer from 1 to 10^10."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT_FEN), **kwargs)


def Points(**kwargs) -> fields.Integer:  # noqa: N802
    """A non-negative number of points."""
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_POINTS), **kwargs)


def BasisPoints(**kwargs) -> fields.Integer:  # noqa: N802
    """A rate in basis points, 0-10000."""
    return fields.Integer(strict=True, validate=validate.Range(min=0, max=10_000), **kwargs)


class _JsonBoolean(fields.Boolean):
    def _deserialize(self, value, attr, data, **kwargs):
        if type(value) is not bool:  # 1 == True and 0 == False, so truthy/falsy sets alone let them in
            raise self.make_error("invalid", input=value)
        return value


def StrictBoolean(**kwargs) -> fields.Boolean:  # noqa: N802
    """Only JSON true or false."""
    return _JsonBoolean(**kwargs)


def document_dict_size(self, field, ret, **kwargs) -> dict:
    """apispec attribute function: a Length on a Dict bounds its entries (maxProperties, not maxLength)."""
    if not isinstance(field, fields.Dict):
        return {}
    bounds = {"minLength": "minProperties", "maxLength": "maxProperties"}
    return {bounds[name]: ret.pop(name) for name in list(ret) if name in bounds}


def Text(max_length: int, min_length: int = 1, **kwargs) -> fields.String:  # noqa: N802
    """A string with length bounds."""
    return fields.String(validate=validate.Length(min=min_length, max=max_length), **kwargs)
