"""The official account's message protocol: signatures, envelope, parsing, replies.

wechatpy does the cryptography and builds the message objects; around it we add what it lacks: constant-time
signature checks (wechatpy compares with `!=`), a refusal of DTDs and entities before any parser
sees the body, shape checks so a hostile body is a 400 rather than a 500, and CDATA-safe reply
rendering (wechatpy leaves `]]>` in a text unescaped, which breaks the reply XML).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import weakref
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree import ElementTree

import xmltodict
from wechatpy.crypto import PrpCrypto, WeChatCrypto
from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, UnknownMessage

MAX_BODY = 1 << 20  # WeChat messages are < 2 KB; a body over 1 MB is not WeChat (413)
_DTD = re.compile(r"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class ProtocolError(Exception):
    """A request that is not a valid WeChat message; `status` is the HTTP answer."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 of the sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def same(expected: str, given: str) -> bool:
    """Constant-time comparison that also survives non-ASCII input (compare_digest on str
    raises TypeError for it, which would turn a forged request into a 500)."""
    return hmac.compare_digest(expected.encode(), given.lower().encode("utf-8", "replace"))


def check_signature(
    token: str, query: dict[str, str], *, max_skew: int, now: float | None = None
) -> None:
    """Verify `signature` over (token, timestamp, nonce) and the timestamp's freshness."""
    signature = query.get("signature", "")
    timestamp = query.get("timestamp", "")
    nonce = query.get("nonce", "")
    expected = sha1_signature(token, timestamp, nonce)
    if not signature or not same(expected, signature):
        raise ProtocolError(403, "signature")
    if max_skew:
        # unix seconds are 10 digits until 2286; a longer "number" is not a time (a 400-digit
        # one does not even convert to float)
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise ProtocolError(403, "timestamp")
        if abs((now or time.time()) - int(timestamp)) > max_skew:
            raise ProtocolError(403, "timestamp")


MAX_DEPTH = 8  # WeChat's deepest message (SendPicsInfo/PicList/item/PicMd5Sum) has 4 levels


class _NoDTD(ElementTree.TreeBuilder):
    """Stops the parser at a DOCTYPE, before any entity it declares can be expanded."""

    def doctype(self, name, pubid, system):
        raise ProtocolError(400, "doctype")


def _xml_dict(body: bytes | str) -> dict:
    """The children of WeChat's `<xml>` root as a dict, shaped as xmltodict shapes it (which is
    what wechatpy's message classes read): text -> str (stripped; empty -> None), nested
    elements -> dict, repeated tags -> list, attributes -> "@name".

    ElementTree's C parser does this in a third of xmltodict's time. WeChat sends UTF-8 only:
    the body is decoded as such and parsed as text, so an encoding declaration (UTF-16,
    EBCDIC ...) cannot hide a DOCTYPE from the check, and the parser refuses one anyway.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError:
        raise ProtocolError(400, "not_xml") from None
    if _DTD.search(text):  # the fast refusal; the parser refuses one too (_NoDTD)
        raise ProtocolError(400, "doctype")
    flat = _flat_dict(text)
    return flat if flat is not None else _parsed_dict(text)


def _parsed_dict(text: str) -> dict:
    """_xml_dict by ElementTree's parser: any well-formed document, refusing DTDs and depth."""
    parser = ElementTree.XMLParser(target=_NoDTD())
    try:
        parser.feed(text)
        root = parser.close()
    except ProtocolError:
        raise
    except Exception:  # expat errors, undefined entities, odd declarations: all 'not XML'
        raise ProtocolError(400, "not_xml") from None
    doc = _element(root, MAX_DEPTH) if root.tag == "xml" else None
    if not isinstance(doc, dict):
        raise ProtocolError(400, "not_wechat_xml")
    return doc


# WeChat's own shape: `<xml>` then leaf elements, each one CDATA section or plain text. Only
# ASCII names; XML's whitespace but \r, which a parser rewrites (so never taken here). A value
# holds no character a parser would rewrite or refuse (line ends to normalise, characters XML
# forbids) and no `]` in a CDATA section; the parser reads such documents. The quantifiers are
# possessive and the classes exclude the closing bracket, so a 600-byte Encrypt is one scan.
_BAD = "\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff"
_FLAT_CHILD = re.compile(
    rf"[ \t\n]*+<([A-Za-z_][A-Za-z0-9_]*+)>(?:<!\[CDATA\[([^\]{_BAD}]*+)\]\]>|([^<&{_BAD}]*+))</\1>",
    re.A,
)
_FLAT_START = re.compile(r"[ \t\n]*+<xml>")
_FLAT_END = re.compile(r"[ \t\n]*+</xml>[ \t\n]*+\Z")


def _flat_dict(text: str) -> dict | None:
    """The fast path of _xml_dict, for a document of exactly WeChat's shape: what the parser
    would give, in a fifth of its time (a parser is built per document, and its allocations
    dominate a 300-byte message). None for anything else — attributes, nesting, repeated or
    namespaced tags, entities, comments, mixed content, a declaration — which the parser then
    reads (or refuses). tests/test_webhook.py checks both paths agree on generated documents.
    """
    start = _FLAT_START.match(text)
    if start is None:
        return None
    out: dict[str, str | None] = {}
    pos, match = start.end(), _FLAT_CHILD.match
    while (m := match(text, pos)) is not None:
        tag, cdata, plain = m.groups()
        value = cdata if cdata is not None else plain
        if tag in out or "]]>" in value:  # a plain value's `]]>`: the parser refuses it
            return None
        out[tag] = value.strip() or None
        pos = m.end()
    if not out or _FLAT_END.match(text, pos) is None:
        return None
    return out


def _element(elem: ElementTree.Element, depth: int) -> dict | str | None:
    text = (elem.text or "").strip() or None
    if not len(elem) and not elem.attrib:
        return text
    if depth == 0:
        raise ProtocolError(400, "not_wechat_xml")
    out: dict = {f"@{k}": v for k, v in elem.attrib.items()}
    for child in elem:
        value = _element(child, depth - 1)
        if child.tag not in out:
            out[child.tag] = value
        elif isinstance(out[child.tag], list):
            out[child.tag].append(value)
        else:
            out[child.tag] = [out[child.tag], value]
    if text:
        out["#text"] = text
    return out


def decrypt(crypto: WeChatCrypto, token: str, body: bytes, query: dict[str, str]) -> str:
    """Check msg_signature in constant time, then let wechatpy decrypt the Encrypt field."""
    envelope = _xml_dict(body)
    encrypted = envelope.get("Encrypt")
    if not isinstance(encrypted, str) or not encrypted:
        raise ProtocolError(400, "no_encrypt")
    expected = sha1_signature(token, query.get("timestamp", ""), query.get("nonce", ""), encrypted)
    if not same(expected, query.get("msg_signature", "")):
        raise ProtocolError(403, "msg_signature")
    try:
        # the envelope is parsed and its signature checked (in constant time) above: only
        # the decryption is left to wechatpy, whose decrypt_message would do both again
        plain = _prp(crypto).decrypt(encrypted, crypto.app_id)
    except Exception:  # bad padding, wrong app id, not base64 ...
        raise ProtocolError(400, "decrypt") from None
    return plain if isinstance(plain, str) else plain.decode("utf-8")


# wechatpy's WeChatCrypto builds a PrpCrypto, and with it an AES cipher, for every message. Its
# cipher object is stateless (each call makes its own encryptor), so one per key serves all.
_PRPS: weakref.WeakKeyDictionary[WeChatCrypto, PrpCrypto] = weakref.WeakKeyDictionary()


def _prp(crypto: WeChatCrypto) -> PrpCrypto:
    prp = _PRPS.get(crypto)
    if prp is None:
        prp = _PRPS[crypto] = PrpCrypto(crypto.key)
    return prp


# What WeChatCrypto.encrypt_message returns, byte for byte.
_SEALED = (
    "<xml>\n<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n"
    "<MsgSignature><![CDATA[{signature}]]></MsgSignature>\n"
    "<TimeStamp>{timestamp}</TimeStamp>\n<Nonce><![CDATA[{nonce}]]></Nonce>\n</xml>"
)


def encrypt_reply(crypto: WeChatCrypto, xml: str, nonce: str, timestamp: str | None) -> str:
    """A safe-mode reply: wechatpy's encrypt_message with the key's one PrpCrypto (_prp)."""
    timestamp = timestamp or str(int(time.time()))
    encrypt = _prp(crypto).encrypt(xml, crypto.app_id).decode("ascii")
    signature = sha1_signature(crypto.token, timestamp, nonce, encrypt)
    return _SEALED.format(encrypt=encrypt, signature=signature, timestamp=timestamp, nonce=nonce)


DEDUPE_KEY_MAX = 128  # models.inbound.InboundMessage.dedupe_key's width
CREATE_TIME_MAX = 2**32  # CreateTime is unix seconds; beyond it is not a time


@dataclass(slots=True)
class Incoming:
    """One inbound message or event, reduced to what the conversation engine needs."""

    openid: str
    to: str
    kind: str  # text, image, voice, video, shortvideo, location, link, event, unknown
    created: int  # CreateTime, unix seconds
    msg_id: str | None = None
    text: str | None = None  # Content, or a voice message's Recognition
    event: str | None = None  # lower-case: subscribe, unsubscribe, scan, subscribe_scan, click...
    event_key: str | None = None  # scene (qrscene_ stripped) or menu key
    media_id: str | None = None
    pic_url: str | None = None
    location: dict | None = None
    extra: dict = field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        """MsgId, or sender + CreateTime + event; hashed when longer than the column holds
        (WeChat's MsgIds are 19 digits, a longer one is a caller's invention)."""
        key = (
            f"m:{self.msg_id}"
            if self.msg_id
            else f"e:{self.openid}:{self.created}:{self.event or self.kind}"
        )
        if len(key) <= DEDUPE_KEY_MAX:
            return key
        return "h:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created, UTC)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def parse(plain: str | bytes) -> Incoming:
    """Parse a plaintext message with wechatpy, refusing shapes WeChat never sends."""
    root = _xml_dict(plain)
    if not all(isinstance(root.get(k), str) and root.get(k) for k in ("FromUserName", "MsgType")):
        raise ProtocolError(400, "not_wechat_xml")
    try:
        msg = wechatpy_message(root)
        created = int(root.get("CreateTime") or 0)
    except Exception:  # wechatpy raises assorted errors on odd field values
        raise ProtocolError(400, "not_wechat_xml") from None
    if not 0 <= created < CREATE_TIME_MAX:
        raise ProtocolError(400, "not_wechat_xml")
    kind = msg.type if msg.type in KINDS else "unknown"
    inc = Incoming(
        openid=root["FromUserName"][:64],
        to=_text(root.get("ToUserName")) or "",
        kind=kind,
        created=created,
        msg_id=_text(root.get("MsgId")) or _text(root.get("MsgID")),
    )
    if kind == "text":
        inc.text = _text(root.get("Content")) or ""
    elif kind == "voice":
        inc.text = _text(root.get("Recognition"))
        inc.media_id = _text(root.get("MediaId"))
    elif kind in ("image", "video", "shortvideo"):
        inc.media_id = _text(root.get("MediaId"))
        inc.pic_url = _text(root.get("PicUrl"))
    elif kind == "location":
        inc.location = {
            "x": _text(root.get("Location_X")),
            "y": _text(root.get("Location_Y")),
            "label": _text(root.get("Label")),
        }
    elif kind == "event":
        inc.event = (getattr(msg, "event", None) or _text(root.get("Event")) or "").lower()
        key = _text(root.get("EventKey"))
        if inc.event == "subscribe_scan" and key and key.startswith("qrscene_"):
            key = key[len("qrscene_") :]
        inc.event_key = key
    return inc


def wechatpy_message(root: dict):
    """wechatpy's message object for an already parsed body.

    Same class choice as `wechatpy.parse_message`, without parsing the XML a second time
    (parsing was a tenth of the webhook's time).
    """
    message = dict(root)
    message_type = message["MsgType"].lower()
    if message_type == "event":
        event_type = str(message.get("Event") or "").lower()
        key = message.get("EventKey")
        if event_type == "subscribe" and isinstance(key, str) and key.startswith("qrscene_"):
            event_type = message["Event"] = "subscribe_scan"
            message["EventKey"] = key[len("qrscene_") :]
        return EVENT_TYPES.get(event_type, UnknownMessage)(message)
    return MESSAGE_TYPES.get(message_type, UnknownMessage)(message)


KINDS = frozenset({"text", "image", "voice", "video", "shortvideo", "location", "link", "event"})


def _cdata(value: str) -> str:
    # ']]>' would end the section early; split it across two sections.
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_text_reply(inc: Incoming, content: str, *, now: int | None = None) -> str:
    return (
        "<xml>"
        f"<ToUserName>{_cdata(inc.openid)}</ToUserName>"
        f"<FromUserName>{_cdata(inc.to)}</FromUserName>"
        f"<CreateTime>{now or int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(content)}</Content>"
        "</xml>"
    )


def build_text_xml(
    openid: str,
    to: str,
    content: str,
    msg_id: int,
    created: int | None = None,
) -> str:
    """The plaintext XML WeChat sends for a user's text message (used by the chat simulator)."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content>{_cdata(content)}</Content>"
        f"<MsgId>{msg_id}</MsgId></xml>"
    )


def build_event_xml(
    openid: str, to: str, event: str, key: str | None = None, created: int | None = None
) -> str:
    key_xml = f"<EventKey>{_cdata(key)}</EventKey>" if key is not None else ""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to)}</ToUserName><FromUserName>{_cdata(openid)}</FromUserName>"
        f"<CreateTime>{created or int(time.time())}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event>{_cdata(event)}</Event>{key_xml}</xml>"
    )


def encrypted_request(
    crypto: WeChatCrypto,
    token: str,
    plain_xml: str,
    to: str,
    timestamp: int | None = None,
    nonce: str = "1320562132",
    openid: str | None = None,
) -> tuple[dict[str, str], str]:
    """Query string and body of a safe-mode request, as WeChat builds them: the query names
    the sender (`openid`, by default the document's FromUserName)."""
    if openid is None:
        found = _flat_dict(plain_xml) or {}
        openid = found.get("FromUserName") or ""
    timestamp = timestamp or int(time.time())
    sealed = crypto.encrypt_message(plain_xml, nonce, timestamp)
    encrypt = xmltodict.parse(sealed)["xml"]["Encrypt"]
    query = {
        "signature": sha1_signature(token, str(timestamp), nonce),
        "timestamp": str(timestamp),
        "nonce": nonce,
        "openid": openid,
        "encrypt_type": "aes",
        "msg_signature": sha1_signature(token, str(timestamp), nonce, encrypt),
    }
    body = f"<xml><ToUserName>{_cdata(to)}</ToUserName><Encrypt>{_cdata(encrypt)}</Encrypt></xml>"
    return query, body


def signed_query(
    token: str, timestamp: int | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The query of a plain-mode request; a fresh random nonce each time, as WeChat does."""
    timestamp = timestamp or int(time.time())
    nonce = nonce or str(secrets.randbelow(9 * 10**9) + 10**9)
    return {
        "signature": sha1_signature(token, str(timestamp), nonce),
        "timestamp": str(timestamp),
        "nonce": nonce,
    }


def reply_content(crypto: WeChatCrypto | None, query: dict[str, str], body: str) -> str | None:
    """Extract the text of a passive reply (decrypting it when it is encrypted)."""
    if not body or body == "success":
        return None
    root = xmltodict.parse(body)["xml"]
    if "Encrypt" in root:
        assert crypto is not None
        plain = crypto.decrypt_message(body, root["MsgSignature"], root["TimeStamp"], root["Nonce"])
        root = xmltodict.parse(plain)["xml"]
    return root.get("Content")
