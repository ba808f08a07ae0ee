"""keepalived 2.2.7's readers of values: numbers (lib/parser.c read_unsigned_func,
read_decimal_unsigned_long_func), addresses (lib/utils.c inet_stosockaddr) and quoted, escaped
argument lists (lib/parser.c alloc_strvec_quoted_escaped). They accept what keepalived accepts,
oddities included: with keepalived's "ignore errors" (most keywords) a number followed by junk
counts as that number, so "80\\\\" is port 80 and `delay_loop 6s` is 6 microseconds."""

from __future__ import annotations

import functools
import ipaddress
import re
import socket

from ipvsctl.importers.keepalived_syntax import Stmt

WHITE = " \t\f\n\r\v"
UINT_MAX = 2**32 - 1
ULONG_MAX = 2**64 - 1
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_UNSIGNED = re.compile(r"[ \t\f\n\r\v]*([+-]?)([0-9]*)")
_PLAIN = re.compile(r"[0-9]+(\.[0-9]{0,6})?")


class Fatal(Exception):
    """keepalived 2.2.7 exits on this line (a keyword without its value: null_strvec)."""


def arg(stmt: Stmt, index: int = 1) -> str:
    """strvec_slot(): the word, or keepalived's exit when the line lacks it."""
    if index >= len(stmt.words):
        raise Fatal(f"{stmt.place}: '{stmt.keyword}' needs a value: keepalived 2.2.7 exits on "
                    "this line (missing parameter)")
    return stmt.words[index]


def strtoul(text: str) -> tuple[int, bool]:
    """C strtoul(text, &end, 10): the value and whether the whole text was the number."""
    if text.isdigit() and text.isascii():  # most values: the whole text is the number
        return min(int(text), ULONG_MAX), True
    match = _UNSIGNED.match(text)
    assert match is not None
    if not match[2]:
        return 0, not text
    value = int(match[2])
    if match[1] == "-" and value:
        value = 2**64 - value
    return min(value, ULONG_MAX), match.end() == len(text)


def read_unsigned(text: str, lo: int, hi: int, *, lenient: bool) -> int | None:
    """read_unsigned_func(): the value, or None where keepalived refuses it. `lenient` is its
    ignore_error: a number in range followed by junk then counts."""
    value, whole = strtoul(text)
    in_range = lo <= value <= hi
    if in_range and whole and not text.lstrip(WHITE).startswith("-"):
        return value
    return value if lenient and in_range else None


def is_plain(text: str) -> bool:
    """True if keepalived reads the text without complaint (digits, optionally decimals)."""
    return _PLAIN.fullmatch(text) is not None


def read_timer(text: str, lo_us: int, hi_us: int = ULONG_MAX - 1) -> float | None:
    """read_timer(): seconds (up to 6 decimals; rounded past that), junk after the number
    ignored; None where keepalived refuses the value."""
    if text.startswith("-"):
        return None
    head, dot, decimals = text.partition(".")
    round_up = len(decimals) > 6 and decimals[6] >= "5"
    digits = head + (decimals[:6].ljust(6, "0") if dot else "000000")
    value, _ = strtoul(digits)
    value += round_up
    if not lo_us <= value <= hi_us:
        return None
    return value / 1e6


@functools.lru_cache(maxsize=1 << 16)  # addresses repeat: a real server in many services
def inet(text: str) -> Address | None:
    """inet_stosockaddr()'s address: from a '-' or '/' on the text is dropped; no names, no
    brackets, no zone index."""
    text = re.split(r"[-/]", text, maxsplit=1)[0]
    if "%" in text:
        return None
    try:
        if ":" in text:
            return ipaddress.IPv6Address(text)
        # inet_pton's dotted quads are exactly the ones IPv4Address reads: no second parse
        return ipaddress.IPv4Address(socket.inet_pton(socket.AF_INET, text))
    except (OSError, ValueError):
        return None


@functools.lru_cache(maxsize=1 << 16)
def address_text(ip: Address) -> str:
    """The compressed text of an address (the model's keys hold it), made once per address."""
    return ip.compressed


def port_text(word: str | None) -> str | None:
    """keepalived passes no port when the word is all zeros (v2.0.7's legacy support)."""
    return word if word and word.strip("0") else None


def endpoint(words: list[str]) -> tuple[Address, int] | None:
    """alloc_vs/alloc_rs/alloc_ssvr: ADDRESS [PORT]; None where keepalived skips it."""
    port = 0
    text = port_text(words[2] if len(words) > 2 else None)
    if text is not None:
        number = read_unsigned(text, 1, 65535, lenient=True)
        if number is None:
            return None
        port = number
    ip = inet(words[1])
    return None if ip is None else (ip, port)


def inet_aton(text: str) -> int | None:
    """getaddrinfo(AI_NUMERICHOST, AF_INET) as glibc does it (inet_aton's forms: a, a.b, a.b.c,
    a.b.c.d, each part decimal, octal or hex) as a 32-bit number."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4 or not all(parts):
        return None
    values = []
    for part in parts:
        try:
            values.append(int(part, 16) if part[:2].lower() == "0x" else
                          int(part, 8) if part.startswith("0") and len(part) > 1 else int(part))
        except ValueError:
            return None
    *head, last = values
    if any(v > 255 for v in head) or last >= 1 << (8 * (4 - len(head))):
        return None
    number = 0
    for v in head:
        number = number << 8 | v
    return number << (8 * (4 - len(head))) | last


_ESCAPES = {"a": "\a", "b": "\b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            "v": "\v"}


def split_quoted_escaped(text: str) -> list[str] | None:
    """alloc_strvec_quoted_escaped(): words with '...' and "..." quoting and C-like backslash
    escapes (\\x41, \\cA, \\101, \\n ...); None where keepalived gives up (a quote left open,
    a backslash at the end)."""
    words: list[str] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in WHITE:
            i += 1
        if i >= n:
            return words
        word: list[str] = []
        quote = ""
        while i < n:
            char = text[i]
            if char == "\\":
                i += 1
                if i >= n:
                    return None
                escaped, i = _escape(text, i)
                word.append(escaped)
                continue
            if quote:
                if char == quote:
                    quote = ""
                else:
                    word.append(char)
                i += 1
                continue
            if char in "'\"":
                quote = char
                i += 1
                continue
            if char in WHITE:
                break
            word.append(char)
            i += 1
        if quote:
            return None
        words.append("".join(word))


def _escape(text: str, i: int) -> tuple[str, int]:
    char = text[i]
    if char == "x" and i + 1 < len(text) and text[i + 1] in "0123456789abcdefABCDEF":
        j = i + 1
        value = 0
        while j < len(text) and text[j] in "0123456789abcdefABCDEF":
            value = (value << 4 | int(text[j], 16)) & 0xFF
            j += 1
        return chr(value), j
    if char == "c" and i + 1 < len(text):
        return chr(ord(text[i + 1]) & 0x1F), i + 2
    if "0" <= char <= "7":
        j, value = i, 0
        while j < len(text) and j < i + 3 and "0" <= text[j] <= "7":
            value = (value << 3) + int(text[j])
            j += 1
        return chr(value & 0xFF), j
    return _ESCAPES.get(char, char), i + 1
