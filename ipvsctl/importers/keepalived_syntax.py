"""keepalived.conf syntax: comments, quotes, braces and line continuations -> a statement tree.

Follows keepalived 2.2's lib/parser.c: a comment starts at an unquoted '#' or '!' anywhere on a
line (`\\#` and `\\!` escape them), a trailing backslash continues the line, "double quotes"
make one word, and an unquoted '{' or '}' always stands alone, so `real_server 10.0.0.1 80 {`,
`{ weight 2 }` and a '{' on the next line all parse the same. `$NAME=value` definitions are
substituted; conditional lines (`@id ...`), `include` and `~SEQ` are reported, not evaluated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ipvsctl.importers._common import MAX_DEPTH, Notes

_DEFINITION = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(slots=True)
class Stmt:
    """One keyword line with its words; `block` holds the statements of its { ... }, if any."""

    words: list[str]
    line: int
    block: list[Stmt] | None = None

    @property
    def keyword(self) -> str:
        return self.words[0]

    @property
    def args(self) -> list[str]:
        return self.words[1:]


def parse_tree(text: str, notes: Notes) -> list[Stmt]:
    """The file's top-level statements; syntax errors go to `notes` with their line."""
    root: list[Stmt] = []
    stack: list[tuple[list[Stmt], int]] = [(root, 0)]
    last: Stmt | None = None  # the statement a following '{' opens a block for
    for line, tokens in _lines(text, notes):
        words: list[str] = []
        for token in [*tokens, None]:
            if isinstance(token, str):
                words.append(token)
                continue
            if words:
                last = Stmt(words, line)
                stack[-1][0].append(last)
                words = []
            if token is _OPEN:
                if last is None or last.block is not None:
                    notes.error(line, "unexpected '{' (a block must follow a keyword)")
                    stack.append(([], line))
                elif len(stack) > MAX_DEPTH:
                    if len(stack) == MAX_DEPTH + 1:
                        notes.error(line, f"blocks nested deeper than {MAX_DEPTH} (the import "
                                          "limit; keepalived.conf needs four at most)")
                    stack.append(([], line))  # kept balanced, its content dropped
                else:
                    last.block = []
                    stack.append((last.block, line))
                last = None
            elif token is _CLOSE:
                if len(stack) == 1:
                    notes.error(line, "unexpected '}' (no block is open)")
                else:
                    stack.pop()
                last = None
    if len(stack) > 1:
        notes.error(stack[-1][1], "block opened here is never closed (missing '}')")
    return root


class _Brace:
    def __init__(self, char: str) -> None:
        self.char = char


_OPEN, _CLOSE = _Brace("{"), _Brace("}")
Token = str | _Brace


def _lines(text: str, notes: Notes) -> list[tuple[int, list[Token]]]:
    out: list[tuple[int, list[Token]]] = []
    definitions: dict[str, str] = {}
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        body = _decomment(raw).strip()
        if body.endswith("\\"):
            pending += body[:-1] + " "
            continue
        body, pending = (pending + body).strip(), ""
        if not body:
            continue
        if match := _DEFINITION.match(body):
            definitions[match[1]] = match[2].strip()
            continue
        if "$" in body:
            body = _REFERENCE.sub(lambda m: definitions.get(m[1] or m[2], m[0]), body)
        if body.startswith("@"):
            notes.warn(start, f"conditional line '{body.split()[0]}' (keepalived -i config_id) "
                              "is not evaluated; line skipped")
            continue
        if body.startswith("~SEQ"):
            notes.warn(start, "~SEQ loops are not expanded; line skipped (expand it by hand)")
            continue
        if body.split()[0] in ("include", "import"):
            notes.warn(start, f"'{body}' is not followed: import the included file separately "
                              "or paste it in")
            continue
        tokens = _split(body, start, notes)
        if tokens:
            out.append((start, tokens))
    return out


def _decomment(raw: str) -> str:
    """The line without its comment: an unquoted '#' or '!' starts one; '\\#' is a '#'."""
    if not any(c in raw for c in '#!"\\'):
        return raw
    out: list[str] = []
    quoted = False
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == '"':
            quoted = not quoted
        elif char == "\\" and not quoted and raw[i + 1:i + 2] in ("#", "!"):
            out.append(raw[i + 1])
            i += 2
            continue
        elif char in "#!" and not quoted:
            break
        out.append(char)
        i += 1
    return "".join(out)


def _split(body: str, line: int, notes: Notes) -> list[Token]:
    if '"' not in body:  # the common case, without the character loop
        words = body.replace("{", " { ").replace("}", " } ").split()
        return [_OPEN if w == "{" else _CLOSE if w == "}" else w for w in words]
    tokens: list[Token] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char.isspace():
            i += 1
        elif char in "{}":
            tokens.append(_OPEN if char == "{" else _CLOSE)
            i += 1
        elif char == '"':
            end = body.find('"', i + 1)
            if end < 0:
                notes.error(line, f"unterminated quote in '{body}'")
                return tokens
            tokens.append(body[i + 1:end])
            i = end + 1
        else:
            j = i
            while j < len(body) and not body[j].isspace() and body[j] not in '{}"':
                j += 1
            tokens.append(body[i:j])
            i = j
    return tokens
