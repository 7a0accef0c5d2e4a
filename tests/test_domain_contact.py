"""Phone and name checks (DOMAIN §7) and masking of personal data."""

from __future__ import annotations

import pytest

from models.contact import InvalidInput, InvalidName, InvalidPhone, normalize_phone, validate_name
from models.masking import mask_id, mask_name, mask_openid, mask_phone


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "8613812345678",
        "0086-138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_phone_normalized(raw: str) -> None:
    assert normalize_phone(raw) == "13812345678"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "12812345678",
        "1381234567",
        "138123456789",
        "+8512812345678",
        "010-12345678",
        "138abc45678",
    ],
)
def test_phone_rejected(raw: str) -> None:
    with pytest.raises(InvalidPhone) as err:
        normalize_phone(raw)
    assert err.value.code == "phone.format"
    assert isinstance(err.value, InvalidInput)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("张三", "张三"),
        ("  欧阳小明 ", "欧阳小明"),
        ("阿卜杜勒·阿齐兹", "阿卜杜勒·阿齐兹"),
        ("阿卜杜勒 • 阿齐兹", "阿卜杜勒·阿齐兹"),
        ("买买提・艾力", "买买提·艾力"),
        ("John  Smith", "John Smith"),
        ("Jean-Luc O'Neil", "Jean-Luc O'Neil"),
        ("王〇", "王〇"),
        ("𠀀", "𠀀"),
    ],
)
def test_name_accepted(raw: str, clean: str) -> None:
    assert validate_name(raw) == clean


@pytest.mark.parametrize(
    "raw", ["", "   ", "张三1", "<script>", "张三<", "·张三", "张三·", "a" * 31, "张@三", "-Jean"]
)
def test_name_rejected(raw: str) -> None:
    with pytest.raises(InvalidName) as err:
        validate_name(raw)
    assert err.value.code == "name.format"


def test_name_of_thirty_characters() -> None:
    assert validate_name("阿" * 30) == "阿" * 30


def test_masks() -> None:
    assert mask_id("11010519491231002X") == "110105********002X"
    assert mask_id("110105491231002") == "110105*****1002"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_name("张三") == "张*"
    assert mask_name("张小三") == "张*三"
    assert mask_name("欧阳小明") == "欧**明"
    assert mask_openid("oAbCdEfGhIjKlMnOpQrStUvWxYz1") == "oAbC…z1"


@pytest.mark.parametrize("fn", [mask_id, mask_phone, mask_name, mask_openid])
def test_masks_of_nothing(fn) -> None:
    assert fn(None) == ""
    assert fn("") == ""


def test_short_values_are_hidden_completely() -> None:
    assert mask_id("12345") == "*****"
    assert mask_phone("1234") == "****"
    assert mask_name("张") == "*"
    assert mask_openid("abcdef") == "*"
