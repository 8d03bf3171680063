"""The alliance's voucher codes: the rule lives in ``alliance_shared/voucher_codes.py`` (the till checks a
scanned code with it before asking the server); the server's services import it from here."""

from alliance_shared.voucher_codes import (  # noqa: F401
    ALPHABET,
    CODE_LENGTH,
    PAYLOAD_LENGTH,
    N,
    check_character,
    display,
    is_valid,
    mask,
    new_code,
    normalize,
)
