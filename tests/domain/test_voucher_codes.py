"""Alliance voucher codes: readable alphabet, length, a check character that catches every single typo."""

from __future__ import annotations

from server.domain import voucher_codes
from server.domain.voucher_codes import ALPHABET, CODE_LENGTH, check_character, display, is_valid, new_code, normalize


def test_the_alphabet_has_no_look_alikes_and_codes_are_long_random_and_checked():
    assert len(ALPHABET) == 32 and not set("0O1I") & set(ALPHABET)
    codes = {new_code() for _ in range(2_000)}
    assert len(codes) == 2_000 and CODE_LENGTH >= 12
    for code in list(codes)[:50]:
        assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET) and is_valid(code)
        assert is_valid(display(code).lower()) and normalize(display(code)) == code


def test_every_single_wrong_character_is_caught():
    code = new_code()
    for position in range(CODE_LENGTH):
        for char in ALPHABET:
            if char != code[position]:
                assert not is_valid(code[:position] + char + code[position + 1 :])


def test_known_check_characters_and_refusals():
    assert check_character("222222222222222") == "2"  # every digit value 0: the check is 0
    assert not is_valid("ABCD") and not is_valid("O" * CODE_LENGTH) and not is_valid("")
    assert voucher_codes.mask("ABCDEFGHJKLMNPQR") == "****NPQR"
