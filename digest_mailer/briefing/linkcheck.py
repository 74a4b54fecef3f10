"""Does a text carry a link, an address or a request for credentials?

Used on the model's briefing (:mod:`digest_mailer.briefing.check`), which goes out under the
digest's trusted sender: a link there is a phishing link, whatever the clean-up made of
it. Mail clients turn a bare ``host.tld`` into a link and readers type what they are told
to, so this looks for every spelling: schemes (also "https ://", "hxxp", ``mailto:``),
``www.``, ``host.tld`` with or without a path, "evil[.]example", "evil dot com",
e-mail addresses, IP addresses, and phrasing such as "reply with your password".

Science text must pass: "ResNet-50", "Fig. 3", "e.g.", "U.S.", "v2.1", "arXiv:2401.01234",
"cs.LG", "mAP@0.5", "[3]", "0.5". A domain needs a label, a dot and an alphabetic label
of two or more letters with no space around the dot, which prose does not write; arXiv
category codes and a few file suffixes that are not top-level domains are let through.
"""

from __future__ import annotations

import re
import unicodedata

from digest_mailer.text import without_format

# Top-level domains a spelled-out obfuscation ("evil dot com", "evil. com") would name;
# with real dots any alphabetic last label counts.
_COMMON_TLDS = ("com|net|org|info|biz|io|ai|co|me|app|dev|xyz|top|site|online|link|click|"
                "shop|store|live|edu|gov|ru|cn|uk|de|tk|example|test|invalid|localhost")

# arXiv categories ("cs.AI", "math.PR", "q-bio.GN", "cond-mat.soft", "math.PR/0601001"):
# two upper-case letters, or one of the lower-case physics words, after a known archive.
_ARXIV_CATEGORY = re.compile(
    r"(?<![\w.-])(?:astro-ph|cond-mat|cs|econ|eess|math|nlin|physics|q-bio|q-fin|stat)"
    r"\.(?:[A-Z]{2}|soft|other|optics|[a-z]+-[a-z]+)(?![\w.])(?:/\d{7})?")
# Suffixes that follow a dot in tech prose and are no top-level domain ("Node.js").
_NOT_TLDS = frozenset({"js", "jl", "nn", "cpp", "hpp", "ipynb", "csv", "json", "yaml", "yml",
                       "txt", "pdf", "png", "jpg", "jpeg", "tex", "bib", "npy", "npz", "pt",
                       "pth", "onnx", "ckpt", "tar", "gz", "zip", "xml", "html", "htm"})
# Degrees written without spaces ("M.Sc."), which look like a one-letter domain.
_ABBREVIATIONS = frozenset({"m.sc", "b.sc", "m.eng", "b.eng", "m.phil", "d.phil", "m.ed", "b.ed",
                            "m.tech", "b.tech", "m.arch", "b.arch", "m.sci"})

_DOT_WORD = r"(?:\.|dot|点)"
_AT_WORD = r"(?:@|at)"
_BRACKETED_DOT = re.compile(rf"\s*[\[({{<]\s*{_DOT_WORD}\s*[\])}}>]\s*", re.I)
_BRACKETED_AT = re.compile(rf"\s*[\[({{<]\s*{_AT_WORD}\s*[\])}}>]\s*", re.I)
_BRACKETED_COLON = re.compile(r"[\[({<]\s*:\s*[\])}>]")
_WIDE_STOP = re.compile(r"(?<=[A-Za-z0-9])[。｡](?=[A-Za-z0-9])")

_CHECKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a URL", re.compile(r"[a-z][a-z0-9+.-]*\s*:\s*/\s*/|(?<![\w/]):\s*//\s*\w", re.I | re.A)),
    ("a URL", re.compile(
        r"\b(?:https?|hxxps?|ftps?|sftp|mailto|tel|sms|callto|javascript|vbscript|skype|"
        r"whatsapp|magnet)\s*:\s*\S|\b(?:data|file|news|irc)\s*:(?=\S)", re.I | re.A)),
    ("a www address", re.compile(r"\bwww\d*\s*\.", re.I)),
    ("an e-mail address", re.compile(r"[\w.+-]+\s*@\s*[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")),
    ("an IP address", re.compile(r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w]|\.\d)")),
    ("a spelled-out domain", re.compile(
        rf"(?<![\w.])[\w-]{{2,}}(?:\s+{_DOT_WORD}\s+|\s*点\s*)(?:{_COMMON_TLDS})(?![\w-])", re.I)),
    ("a spelled-out domain", re.compile(
        r"(?<![\w.])(?!(?:al|etc|vs|cf|ca|resp|approx|no)\b)[\w-]{2,}(?:\s+\.\s*|\.\s+)"
        r"(?:com|net|org|io|ru|cn|xyz|biz|info|example)(?![\w.-])")),
    ("a request for credentials", re.compile(
        r"\b(?:reply|respond|write back|answer|send|e-?mail|text|enter|type|provide|submit|"
        r"confirm|share|give|tell|update)\b[^.!?\n]{0,30}\byour\s+(?:[\w-]+\s+)?"
        r"(?:password|passcode|passphrase|pin|credentials|log-?in|username|user name|"
        r"one-time code|verification code|security code|2fa code|otp|bank details|"
        r"card number|card details|social security number)s?\b", re.I)),
    ("a request for credentials", re.compile(
        r"\b(?:verify|confirm|validate|unlock|reactivate|re-activate|update|secure|restore|"
        r"reset|recover)\s+your\s+(?:[\w-]+\s+)?(?:account|identity|log-?in|password|"
        r"credentials|mailbox|subscription|e-?mail|payment|billing)s?\b", re.I)),
    ("a request for credentials", re.compile(
        r"\b(?:log|sign)\s*-?\s*(?:in|on)(?:to)?\s+(?:at|here|now|via|to\s+your|with\s+your)\b"
        r"|\blog-?in\s+at\b|\bclick\s+(?:here|the\s+link|this\s+link|below|the\s+button)\b"
        r"|\byour\s+(?:account|subscription|mailbox|password)\s+(?:will|has|have|is)\b"
        r"[^.!?\n]{0,30}\b(?:suspend|lock|clos|deactivat|disabl|terminat|expir|cancel)", re.I)),
    ("a request for credentials", re.compile(
        r"(?:回复|提供|输入|发送|告诉|提交).{0,8}(?:密码|口令|验证码|账号|帐号)"
        r"|(?:验证|确认|激活|解锁).{0,4}(?:账户|帐户|账号|帐号|身份)"
        r"|登录.{0,4}(?:网址|网站|链接|地址)|点击.{0,6}(?:链接|这里|此处)")),
)
_DOMAIN = re.compile(r"(?<![\w.@-])((?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+)([^\W\d_]{2,63})"
                     r"(?![\w-])")


def _normalise(text: str) -> str:
    """The text as a reader's eye (or a mail client) would take it: full-width letters,
    invisible characters and bracketed or ideographic dots spelled plainly."""
    text = unicodedata.normalize("NFKC", text)
    text = without_format(text)  # zero-width, bidi
    text = _BRACKETED_COLON.sub(":", text)
    text = _BRACKETED_DOT.sub(".", text)
    text = _BRACKETED_AT.sub("@", text)
    return _WIDE_STOP.sub(".", text)


def link_like(text: str) -> str:
    """A short description of the first link-like thing in ``text`` ("" when there is none)."""
    text = _normalise(text)
    for what, pattern in _CHECKS:
        match = pattern.search(text)
        if match:
            return f"{what} ({match.group()[:40]!r})"
    for match in _DOMAIN.finditer(_ARXIV_CATEGORY.sub(" ", text)):
        if match.group(2).lower() not in _NOT_TLDS and \
                match.group().lower() not in _ABBREVIATIONS:
            return f"a domain ({match.group()[:40]!r})"
    return ""
