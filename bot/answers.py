"""One answer normalizer for every numbered choice and yes/no question.

Elderly users answer by voice ("二。", "第一个。"), with full-width digits from a Chinese
keyboard ("２"), in words ("两", "选二", "我选2", "2吧"), with the option's own words or a
synonym ("赡养费" for the support matter, "律师" for the handler) or plainly "是的"/"没有".
Every step with choices reads answers through `resolve`, in this order:

1. a number, in any of the forms above (out of range: read on, "七十岁" is no option 70);
2. an option's label (any locale), or one of its words, as the whole answer;
3. a yes/no word as the whole answer, when the options say which one means yes or no;
4. option words and labels found inside the answer ("那个律师" -> the handler), a negated yes
   word counting as no ("没有收钱" -> no); a word inside a longer matched word does not count
   ("不满意" is not also "满意");
5. the answer found inside exactly one option's label ("赡养费" in "请求给付赡养费、…").

When several options fit, nothing is picked and the candidates are returned: the caller
re-prompts with them instead of guessing. Synonyms live in the catalogs as
`words.<label key>` ("a|b|c"), so a translator or a centre can add them without code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from i18n import LOCALES, catalog, t

if TYPE_CHECKING:
    from bot.flowkit import Choice

# Punctuation around and inside a spoken or typed answer that never changes its meaning.
# WeChat's speech recognition ends sentences with "。"; people add "！", "～", quotes, spaces.
_PUNCT = " \t\r\n。.!！~～、，,？?；;：:…\"'“”‘’「」『』【】()（）[]<>《》-—_·*#"
_PUNCT_RE = re.compile("[" + re.escape(_PUNCT) + "]+")

_CN_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "壹": 1,
    "幺": 1,
    "二": 2,
    "贰": 2,
    "两": 2,
    "俩": 2,
    "三": 3,
    "叁": 3,
    "四": 4,
    "肆": 4,
    "五": 5,
    "伍": 5,
    "六": 6,
    "陆": 6,
    "七": 7,
    "柒": 7,
    "八": 8,
    "捌": 8,
    "九": 9,
    "玖": 9,
}
_CN_NUM = "零〇一壹幺二贰两俩三叁四肆五伍六陆七柒八捌九玖十拾"
# What people say around a number: "我选第2个吧", "就二", "嗯，三", "数字1", "那就第一项".
_NUMBER = re.compile(
    r"(?:嗯|恩|呃|额|哦|噢|啊|那|那么|我|俺|就|还是|应该|应该是|要|想|选|选择|挑|是|按|回复|回|"
    r"答|答案|答案是|数字|序号|号码|编号|第)*"
    rf"(?P<n>\d{{1,2}}|[{_CN_NUM}]{{1,3}})"
    r"(?:号|个|项|条|种|位|样|点|吧|呀|啊|了|的|嘛|哈|呢|哦|喔|噢|啦|咯|就行|就好|就可以|可以|"
    r"好了|行|吗|呗|这个|那个|选项)*"
)
_EN_ORDINALS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
}
_EN_NUMBER = re.compile(
    r"(?:(?:i|i'd|i will|i'll)\s+(?:choose|pick|take|want|select)\s+|(?:choose|pick|select|"
    r"option|number|no|choice|the|#)\s*)*(?:(?P<n>\d{1,2})(?:st|nd|rd|th)?|(?P<w>[a-z]+))"
    r"(?:\s+(?:one|option|please))*"
)

# Whole answers that mean yes or no (after punctuation and repeated characters are dropped:
# "对对对" is "对"). Used only where the options say which one means yes.
YES_WORDS = frozenset(
    {
        "是",
        "是的",
        "是啊",
        "是呀",
        "是滴",
        "对",
        "对的",
        "对啊",
        "对呀",
        "嗯",
        "恩",
        "嗯呐",
        "好",
        "好的",
        "好啊",
        "行",
        "行的",
        "可以",
        "有",
        "有的",
        "有过",
        "有啊",
        "同意",
        "确认",
        "确定",
        "没错",
        "没问题",
        "当然",
        "肯定",
        "要",
        "需要",
        "愿意",
        "ok",
        "okay",
        "y",
        "yes",
        "yeah",
        "yep",
        "sure",
        "right",
        "correct",
        "agree",
        "对头",
        "中",
        "得",
        "要得",
        "妥",
    }
)
NO_WORDS = frozenset(
    {
        "否",
        "不",
        "不是",
        "不是的",
        "不对",
        "没",
        "没有",
        "没有的",
        "没有过",
        "没得",
        "莫得",
        "冇",
        "冇有",
        "无",
        "不要",
        "不用",
        "不需要",
        "不行",
        "不可以",
        "不同意",
        "不愿意",
        "从来没有",
        "都没有",
        "当然没有",
        "绝对没有",
        "一点也没有",
        "没那回事",
        "n",
        "no",
        "nope",
        "not",
        "never",
        "none",
        "disagree",
    }
)
# Words that turn a yes word found inside an answer into a no ("没有收钱", "不满意").
_NEGATIONS = (
    "从来没有",
    "从来没",
    "从没有",
    "从没",
    "并没有",
    "根本没",
    "一直没",
    "也没有",
    "也没",
    "不曾",
    "没有",
    "没",
    "不",
    "未",
    "无",
    "别",
    "never",
    "not",
    "no",
    "didn't",
    "did not",
    "don't",
    "wasn't",
)
LIST_WORDS = frozenset({"列表", "选项", "看选项", "看看选项", "全部选项", "list", "options"})
NUMBER_MAX = (
    30  # characters; a longer message is a sentence, not "我选第二个吧" (and bounds the regex)
)
SCAN_MAX = 200  # characters searched for option words; an answer to a choice is never longer
_KEYWORD_MIN = 2  # characters; one-character words ("是", "有") only count as a whole answer


@dataclass(frozen=True, slots=True)
class Answer:
    """What an answer picks: `value`, or the 1-based numbers of the options it could mean."""

    value: str | None = None
    candidates: tuple[int, ...] = ()


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, surrounding punctuation and spaces dropped."""
    s = unicodedata.normalize("NFKC", text or "").lower()
    return s.strip(_PUNCT).strip()


def _squeeze(s: str) -> str:
    """Inner punctuation and spaces dropped, runs of one character kept once ("对对对" -> "对")."""
    s = _PUNCT_RE.sub("", s)
    return re.sub(r"(.)\1+", r"\1", s)


def _cn_value(s: str) -> int | None:
    s = s.replace("拾", "十")
    if "十" not in s:
        return _CN_DIGITS[s] if len(s) == 1 else None
    tens, _, ones = s.partition("十")
    if len(tens) > 1 or len(ones) > 1 or (tens and tens not in _CN_DIGITS):
        return None
    value = (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return value if value < 100 and (not ones or ones in _CN_DIGITS) else None


def number(text: str) -> int | None:
    """The option number an answer names ("２", "二。", "第二个", "我选2", "2吧"), or None."""
    if len(text) > NUMBER_MAX:
        return None
    s = _PUNCT_RE.sub("", normalize(text))
    m = _NUMBER.fullmatch(s)
    if m:
        n = m.group("n")
        return int(n) if n.isdigit() else _cn_value(n)
    m = _EN_NUMBER.fullmatch(re.sub(r"\s+", " ", normalize(text)))
    if m:
        return int(m.group("n")) if m.group("n") else _EN_ORDINALS.get(m.group("w"))
    return None


def yes_no(text: str) -> bool | None:
    """True for a yes ("是的", "对对对", "嗯"), False for a no ("没有", "不是"), else None."""
    s = normalize(text)
    for candidate in (s, _squeeze(s), _squeeze(re.sub(r"[啊呀吧呢哦啦的]+$", "", s))):
        if candidate in YES_WORDS:
            return True
        if candidate in NO_WORDS:
            return False
    return None


def is_list_request(text: str) -> bool:
    """ "列表": the user wants to see the options again."""
    return normalize(text) in LIST_WORDS


def keywords(choice: Choice) -> set[str]:
    """A choice's words: its own, and `words.<label>` from every catalog ("a|b|c")."""
    words = {normalize(w) for w in choice.words}
    for loc in LOCALES:
        extra = catalog(loc).get("words." + choice.label)
        if extra:
            words |= {normalize(w) for w in extra.split("|")}
    return {w for w in words if w}


def labels(choice: Choice) -> set[str]:
    return {normalize(t(choice.label, loc, **(choice.label_fields or {}))) for loc in LOCALES}


def resolve(text: str, choices: Sequence[Choice]) -> Answer:
    """Read an answer against numbered choices (see the module docstring for the order)."""
    if not choices:
        return Answer()
    answer = normalize(text)
    if not answer:
        return Answer()
    n = number(answer)
    if n is not None and 1 <= n <= len(choices):
        return Answer(choices[n - 1].value)
    words = [keywords(ch) for ch in choices]
    names = [labels(ch) for ch in choices]
    exact = [i for i in range(len(choices)) if answer in words[i] or answer in names[i]]
    if exact:
        return _one(choices, exact)
    yes = next((i for i, ch in enumerate(choices) if ch.means == "yes"), None)
    no = next((i for i, ch in enumerate(choices) if ch.means == "no"), None)
    said = yes_no(answer)
    if said is True and yes is not None:
        return Answer(choices[yes].value)
    if said is False and no is not None:
        return Answer(choices[no].value)
    if len(answer) > SCAN_MAX:
        return Answer()
    found = _found_inside(answer, words, names, choices, yes, no)
    if found:
        return _one(choices, found)
    if len(answer) >= _KEYWORD_MIN:
        within = [i for i in range(len(choices)) if any(answer in name for name in names[i])]
        if within:
            return _one(choices, within)
    return Answer()


def exact(text: str, choices: Sequence[Choice]) -> Answer:
    """Steps 1–2 only: a number, or an option's label or word as the whole answer."""
    answer = normalize(text)
    n = number(answer) if answer else None
    if n is not None and 1 <= n <= len(choices):
        return Answer(choices[n - 1].value)
    hits = [
        i
        for i, ch in enumerate(choices)
        if answer and (answer in keywords(ch) or answer in labels(ch))
    ]
    return _one(choices, hits) if hits else Answer()


def _one(choices: Sequence[Choice], indexes: list[int]) -> Answer:
    unique = sorted(set(indexes))
    if len(unique) == 1:
        return Answer(choices[unique[0]].value)
    return Answer(candidates=tuple(i + 1 for i in unique))


def _found_inside(
    answer: str,
    words: list[set[str]],
    names: list[set[str]],
    choices: Sequence[Choice],
    yes: int | None,
    no: int | None,
) -> list[int]:
    """Options whose words or labels occur in the answer; see step 4 of the module docstring."""
    hits: list[tuple[int, int, int]] = []  # (start, end, option index)
    for i in range(len(choices)):
        vocab = set(words[i]) | names[i]
        if i == yes:
            vocab |= YES_WORDS
        if i == no:
            vocab |= NO_WORDS
        for word in vocab:
            if len(word) < _KEYWORD_MIN:
                continue
            pattern = rf"\b{re.escape(word)}\b" if word.isascii() else re.escape(word)
            for m in re.finditer(pattern, answer):
                hits.append((m.start(), m.end(), i))
    # a hit inside a longer hit is part of that word ("满意" in "不满意")
    kept = [
        h
        for h in hits
        if not any(o[0] <= h[0] and h[1] <= o[1] and (o[1] - o[0]) > (h[1] - h[0]) for o in hits)
    ]
    found = []
    for start, _end, i in kept:
        # negation matters on yes/no questions only: "没有进展" *is* the no-progress ground
        negated = (yes is not None or no is not None) and _negated(answer[:start])
        if negated and i == yes:
            if no is not None:
                found.append(no)
            continue
        if negated and i != no:
            continue  # "不是律师" says what it is not: no pick from it
        found.append(i)
    return found


def _negated(before: str) -> bool:
    """Whether the text before a word ends with a negation ("没有" 收钱, "not" satisfied)."""
    before = before.rstrip()
    for neg in _NEGATIONS:
        if before.endswith(neg):
            head = before[: -len(neg)]
            if not neg.isascii() or not head or not head[-1].isalpha():
                return True
    return False


def candidates_text(candidates: Sequence[int], locale: str) -> str:
    """ "1 或 3" / "1 or 3": the numbers an ambiguous answer could mean."""
    nums = [str(n) for n in candidates]
    if len(nums) == 1:
        return nums[0]
    return t("punct.list_sep", locale).join(nums[:-1]) + t("choice.or", locale) + nums[-1]
