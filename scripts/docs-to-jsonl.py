#!/usr/bin/env python3
"""scripts/docs-to-jsonl.py: what scripts/docs-corpus.sh runs to turn unpacked Debian documentation
packages into JSONL documents {"text": ..., "src": PACKAGE} (python3 standard library only).

    docs-to-jsonl.py --src DIR --out FILE.jsonl [--bible-bin PATH] PACKAGE...

DIR/PACKAGE/ holds each package as `dpkg -x` left it. Packages are read in the order given, the files of
each in sorted path order (byte order), so the output depends only on the .deb files. Each package has a
rule list below: which files, and which converter (HTML, reStructuredText, pod, roff, Texinfo info,
dictd dictionaries, ...) turns them into plain text. Markup is stripped crudely but robustly: a file the
converter cannot make sense of yields what text it can, never an error. Long texts are cut at blank lines
into documents of at most MAX_DOC bytes; small units (dictionary entries, fortunes) are grouped up to
GROUP_DOC bytes. Documents shorter than MIN_DOC bytes are dropped, and so is an exact repeat of an earlier
document. Per-package counts go to stderr and to --stats (TSV).
"""
import argparse
import gzip
import hashlib
import html
import html.entities
import html.parser
import json
import os
import re
import subprocess
import sys

MAX_DOC = 20000    # bytes: longer texts are split at blank lines
SPLIT_AT = 12000   # ... into pieces of about this size
GROUP_DOC = 8000   # bytes: small units are grouped up to this size
MIN_DOC = 200      # bytes: shorter documents are dropped


def read_bytes(path):
    with open(path, "rb") as f:
        data = f.read()
    if path.endswith(".gz") or path.endswith(".dz"):
        data = gzip.decompress(data)
    return data


def read_text(path):
    data = read_bytes(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")  # old pod/roff files; every byte maps to a character


# ---------------------------------------------------------------------------------------------------
# Final clean-up shared by every converter.

_CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def tidy(text):
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    text = _CTRL.sub("", text)
    text = text.replace("\u00ad", "")  # soft hyphens
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n")


def split_long(text):
    """Cuts text longer than MAX_DOC at blank lines (or lines, or anywhere) into pieces of ~SPLIT_AT."""
    if len(text.encode("utf-8")) <= MAX_DOC:
        return [text]
    out, cur, size = [], [], 0
    for para in text.split("\n\n"):
        n = len(para.encode("utf-8")) + 2
        if n > MAX_DOC:  # a huge paragraph: cut at lines
            for ln in para.split("\n"):
                m = len(ln.encode("utf-8")) + 1
                while m > MAX_DOC:  # a huge line: cut at characters
                    if cur:
                        out.append("\n\n".join(cur)), cur.clear()
                        size = 0
                    out.append(ln[:SPLIT_AT])
                    ln = ln[SPLIT_AT:]
                    m = len(ln.encode("utf-8")) + 1
                if size + m > SPLIT_AT and cur:
                    out.append("\n\n".join(cur))
                    cur, size = [], 0
                cur.append(ln)
                size += m
            continue
        if size + n > SPLIT_AT and cur:
            out.append("\n\n".join(cur))
            cur, size = [], 0
        cur.append(para)
        size += n
    if cur:
        out.append("\n\n".join(cur))
    return [t.strip("\n") for t in out if t.strip()]


# ---------------------------------------------------------------------------------------------------
# HTML

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}
SKIP_TAGS = {"head", "script", "style", "nav", "noscript", "svg", "button", "form", "iframe", "template",
             "select", "textarea", "map", "object", "math"}
SKIP_CLASSES = {"navheader", "navfooter", "sphinxsidebar", "sphinxsidebarwrapper", "related", "footer", "header",
                "nav", "sidebar", "menu-bar", "sidebar-scrollbox", "nav-wrapper", "nav-wide-wrapper", "searchbox",
                "breadcrumbs", "headerlink", "toc", "navigation", "searchformwrapper", "mobile-nav-chapters",
                "menu-title", "left-buttons", "right-buttons", "footnav", "fancy_toc", "nosearch", "hidden",
                "copyright", "legalnotice", "toc_parent", "menu", "skip-link", "sectionToc", "docnav"}
SKIP_IDS = {"hd", "ft", "global-nav", "searchbox", "sidebar", "menu-bar", "footer", "header", "navigation",
            "toc", "sidebar-toggle-anchor", "search-wrapper", "breadcrumb", "navbar", "mobile-nav", "banner",
            "title"}
BLOCK = {"p", "div", "section", "article", "main", "aside", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote",
         "table", "tr", "ul", "ol", "dl", "dt", "dd", "li", "figure", "figcaption", "caption", "hr", "address",
         "center", "body", "html", "tbody", "thead", "tfoot", "fieldset", "details", "summary", "header", "footer"}
HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}


class HTMLText(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out = []        # list of (is_pre, text)
        self.skip_tag = None
        self.skip_depth = 0
        self.pre = 0

    def _emit(self, s, pre=False):
        self.out.append((pre, s))

    def handle_starttag(self, tag, attrs):
        if self.skip_tag is not None:
            if tag == self.skip_tag and tag not in VOID:
                self.skip_depth += 1
            return
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if tag in SKIP_TAGS or classes & SKIP_CLASSES or (a.get("id") or "") in SKIP_IDS or \
                a.get("role") in ("navigation", "search") or "display:none" in (a.get("style") or "").replace(" ", ""):
            if tag not in VOID:
                self.skip_tag, self.skip_depth = tag, 1
            return
        if tag == "br":
            self._emit("\n", True)
        elif tag in ("td", "th"):
            self._emit(" ")
        elif tag == "li":
            self._emit("\n\n", True)
            self._emit("- ", True)
        elif tag in BLOCK:
            self._emit("\n\n", True)
        if tag == "pre":
            self.pre += 1
        elif tag == "img" and a.get("alt") and len(a["alt"]) > 3 and not a["alt"].lower().endswith((".png", ".gif", ".jpg", ".svg")):
            self._emit(" " + a["alt"] + " ")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.skip_tag == tag and tag not in VOID:  # <div/> written as self-closing
            self.skip_depth -= 1
            if self.skip_depth == 0:
                self.skip_tag = None

    def handle_endtag(self, tag):
        if self.skip_tag is not None:
            if tag == self.skip_tag:
                self.skip_depth -= 1
                if self.skip_depth == 0:
                    self.skip_tag = None
            return
        if tag == "pre" and self.pre:
            self.pre -= 1
        if tag in BLOCK:
            self._emit("\n\n", True)

    def handle_data(self, data):
        if self.skip_tag is not None:
            return
        self._emit(data, self.pre > 0)

    def text(self):
        parts = []
        buf = []
        for pre, s in self.out:
            if pre:
                if buf:
                    parts.append(re.sub(r"\s+", " ", "".join(buf)))
                    buf = []
                parts.append(s)
            else:
                buf.append(s)
        if buf:
            parts.append(re.sub(r"\s+", " ", "".join(buf)))
        t = "".join(parts)
        t = re.sub(r"[ \t]*\n[ \t]*\n", "\n\n", t)
        t = re.sub(r"\n\n(?:- \n\n)", "\n\n- ", t)
        # lines that only began with collapsed whitespace
        t = "\n".join(ln[1:] if ln.startswith(" ") and not ln.startswith("  ") else ln for ln in t.split("\n"))
        t = t.replace("\u00b6", "")  # Sphinx's pilcrow permalinks
        return t


def conv_html(path):
    p = HTMLText()
    try:
        p.feed(read_text(path))
        p.close()
    except Exception:  # html.parser is lenient; whatever it produced so far is kept
        pass
    return p.text()


# ---------------------------------------------------------------------------------------------------
# reStructuredText (Sphinx sources)

RST_KEEP_ARGS = re.compile(
    r"^(?:note|warning|important|tip|seealso|attention|caution|danger|hint|error|admonition|versionadded|"
    r"versionchanged|deprecated|deprecated-removed|describe|function|method|class|attribute|data|exception|"
    r"decorator|decoratormethod|classmethod|staticmethod|coroutinefunction|coroutinemethod|abstractmethod|"
    r"module|opcode|option|envvar|cmdoption|program|index|rubric|topic|sidebar|glossary|productionlist|"
    r"c:\w+|cpp:\w+|py:\w+|js:\w+|std:\w+|rst:\w+|django-admin|setting|templatetag|templatefilter|fieldlookup|"
    r"warning|tabularcolumns|centered|hlist|epigraph|pull-quote|highlights|compound|container|line-block|"
    r"parsed-literal|code-block|code|sourcecode|doctest|testcode|testoutput|literalinclude-off|table|list-table|"
    r"csv-table|math|only|ifconfig|impl-detail|availability|audit-event|audit-event-table|pdbcommand|"
    r"2to3fixer|confval|event|flat-table|kernel-feat|cssclass|term)$")


def rst_inline(s):
    s = re.sub(r":[\w:+.-]+:`~?!?([^`<]*?)\s*<[^`>]*>`", r"\1", s)   # :ref:`text <target>`
    s = re.sub(r":[\w:+.-]+:`~?!?([^`]*)`", r"\1", s)                 # :func:`name`
    s = re.sub(r"`([^`<]+?)\s*<[^`>]+>`__?", r"\1", s)                 # `text <url>`_
    s = re.sub(r"``([^`]+)``", r"\1", s)                              # ``literal``
    s = re.sub(r"`([^`]+)`__?", r"\1", s)                             # `reference`_
    s = re.sub(r"`([^`]+)`", r"\1", s)                                # `interpreted`
    s = re.sub(r"\*\*([^*\n]+)\*\*", r"\1", s)                         # **strong**
    s = re.sub(r"(?<![\w*\\])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])", r"\1", s)  # *emphasis*
    s = re.sub(r"\|(\w[\w .-]*)\|_?", r"\1", s)                        # |substitution|
    s = re.sub(r"\[#?\w*\]_", "", s)                                  # footnote references
    s = s.replace("\\ ", "")
    return s


def conv_rst(path):
    lines = read_text(path).split("\n")
    out = []
    i, n = 0, len(lines)
    while i < n:
        ln = lines[i]
        st = ln.lstrip()
        ind = len(ln) - len(st)
        if st.startswith(".."):
            m = re.match(r"\.\.\s+([\w:+-]+)::\s*(.*)$", st)
            drop_body = True
            keep = ""
            if m:
                name, args = m.group(1), m.group(2)
                if RST_KEEP_ARGS.match(name):
                    drop_body = False
                    if name not in ("code-block", "code", "sourcecode", "highlight", "index", "tabularcolumns",
                                    "only", "ifconfig", "math", "table", "list-table", "csv-table", "cssclass",
                                    "container", "flat-table", "kernel-feat", "audit-event-table"):
                        keep = args
            # skip the directive/comment line and its option lines; the body either goes or stays
            j = i + 1
            while j < n and re.match(r"^\s+:[\w -]+:", lines[j]) and (len(lines[j]) - len(lines[j].lstrip())) > ind:
                j += 1
            if drop_body:
                while j < n and (not lines[j].strip() or (len(lines[j]) - len(lines[j].lstrip())) > ind):
                    j += 1
                # keep the blank line that ended it
            if keep:
                out.append(" " * ind + keep)
            i = j
            continue
        if re.match(r"^([=\-~^\"'`#*+_:.<>])\1{2,}\s*$", st):  # section adornment
            i += 1
            continue
        if re.match(r"^\+[-=+]+\+$", st) or re.match(r"^=+( +=+)+$", st):  # table borders
            i += 1
            continue
        if st == "::":
            i += 1
            continue
        if ln.endswith("::") and not ln.endswith(" ::"):
            ln = ln[:-1]
        elif ln.endswith(" ::"):
            ln = ln[:-3]
        out.append(ln)
        i += 1
    return rst_inline("\n".join(out))


# ---------------------------------------------------------------------------------------------------
# Perl pod

def pod_inline(s):
    out, stack, i, n = [], [], 0, len(s)
    # stack: (code, closer); the output of a code goes to its own buffer
    bufs = [[]]
    while i < n:
        c = s[i]
        if c in "BCEFILSXZ" and i + 1 < n and s[i + 1] == "<":
            m = re.match(r"<(<+)\s", s[i + 1:])
            if m:
                k = len(m.group(1)) + 1
                stack.append((c, " " + ">" * k))
                bufs.append([])
                i += 1 + len(m.group(0))
                continue
            stack.append((c, ">"))
            bufs.append([])
            i += 2
            continue
        if stack:
            closer = stack[-1][1]
            if s.startswith(closer, i) if closer != ">" else c == ">":
                code, _ = stack.pop()
                inner = "".join(bufs.pop())
                if closer != ">":
                    inner = inner.rstrip()
                    i += len(closer)
                    # a closer may be followed by more '>' that belong to it
                else:
                    i += 1
                bufs[-1].append(pod_code(code, inner))
                continue
        bufs[-1].append(c)
        i += 1
    while stack:  # unclosed codes: keep their text
        code, _ = stack.pop()
        inner = "".join(bufs.pop())
        bufs[-1].append(inner)
    return "".join(bufs[0])


POD_E = {"lt": "<", "gt": ">", "verbar": "|", "sol": "/", "quot": '"', "amp": "&", "apos": "'", "nbsp": " "}


def pod_code(code, inner):
    if code in "XZ":
        return ""
    if code == "E":
        if inner in POD_E:
            return POD_E[inner]
        if inner.isdigit():
            try:
                return chr(int(inner))
            except ValueError:
                return ""
        if inner.lower().startswith("0x"):
            try:
                return chr(int(inner, 16))
            except ValueError:
                return ""
        return html.entities.html5.get(inner + ";", "")
    if code == "L":
        if "|" in inner:
            return inner.split("|", 1)[0]
        if "/" in inner and not re.match(r"\w+:", inner):
            name, sec = inner.split("/", 1)
            sec = sec.strip('"')
            return f'"{sec}" in {name}' if name else f'"{sec}"'
        return inner
    return inner


def conv_pod(path):
    text = read_text(path)
    paras = re.split(r"\n[ \t]*\n", text)
    out = []
    in_pod = not text.lstrip().startswith("#!")
    skip_region = None
    for p in paras:
        if not p.strip():
            continue
        if p.startswith("="):
            m = re.match(r"=(\w+)\s*(.*)", p, re.S)
            cmd, arg = (m.group(1), m.group(2).strip()) if m else ("", "")
            if cmd == "cut":
                in_pod = False
                continue
            in_pod = True
            if skip_region:
                if cmd == "end" and arg.split()[:1] == [skip_region]:
                    skip_region = None
                continue
            if cmd == "begin":
                fmt = (arg.split() or [""])[0]
                if fmt.lower() not in ("text", ":text"):
                    skip_region = fmt
                continue
            if cmd in ("pod", "over", "back", "encoding", "end", "for"):
                continue
            if cmd.startswith("head"):
                out.append(pod_inline(arg))
            elif cmd == "item":
                if arg in ("*", "") or re.fullmatch(r"\d+\.?", arg):
                    out.append("-" if arg in ("*", "") else arg)
                else:
                    out.append(pod_inline(arg))
            continue
        if not in_pod or skip_region:
            continue
        if p[:1] in (" ", "\t"):
            out.append(p)  # verbatim
        else:
            out.append(pod_inline(p))
    # join "-"/"1." item markers with their paragraph
    res = []
    for p in out:
        if res and (res[-1] == "-" or re.fullmatch(r"\d+\.?", res[-1])):
            res[-1] = res[-1] + " " + p.lstrip()
        else:
            res.append(p)
    return "\n\n".join(res)


# ---------------------------------------------------------------------------------------------------
# roff (man pages, including Pod::Man output)

ROFF_CHARS = {
    "em": "\u2014", "en": "\u2013", "hy": "-", "mi": "-", "aq": "'", "dq": '"', "lq": "\u201c", "rq": "\u201d",
    "oq": "\u2018", "cq": "\u2019", "bu": "\u2022", "co": "\u00a9", "rg": "\u00ae", "tm": "\u2122", "ha": "^",
    "ti": "~", "ga": "`", "ul": "_", "pl": "+", "mu": "\u00d7", "di": "\u00f7", "+-": "\u00b1", "<=": "\u2264",
    ">=": "\u2265", "!=": "\u2260", "==": "\u2261", "->": "\u2192", "<-": "\u2190", "fm": "\u2032", "dg": "\u2020",
    "sc": "\u00a7", "de": "\u00b0", "ps": "\u00b6", "bv": "|", "ba": "|", "rs": "\\", "sl": "/", "lB": "[",
    "rB": "]", "lC": "{", "rC": "}", "la": "\u27e8", "ra": "\u27e9", "Fo": "\u00ab", "Fc": "\u00bb",
    "ss": "\u00df", "at": "@", "sh": "#", "Do": "$", "eu": "\u20ac", "Po": "\u00a3", "ct": "\u00a2",
    "12": "\u00bd", "14": "\u00bc", "34": "\u00be", "sq": "\u25a1", "ci": "\u25cb", "aa": "\u00b4",
    "a\"": "\u02dd", "ho": "\u02db", "ua": "\u2191", "da": "\u2193", "rA": "\u21d2", "lA": "\u21d0",
    "'e": "\u00e9", "`e": "\u00e8", "'a": "\u00e1", "`a": "\u00e0", ":a": "\u00e4", ":o": "\u00f6",
    ":u": "\u00fc", "'o": "\u00f3", "'i": "\u00ed", "'u": "\u00fa", "~n": "\u00f1", ",c": "\u00e7",
    "^e": "\u00ea", "^a": "\u00e2", "^o": "\u00f4", "ae": "\u00e6", "oe": "\u0153", "/o": "\u00f8",
    "oa": "\u00e5", "a~": "\u00e3", "o~": "\u00f5",
}
ROFF_STRINGS = {'L"': "\u201c", 'R"': "\u201d", "C+": "C++", "--": "--", "PI": "pi", "Tm": "(TM)", "R": "\u00ae",
                "lq": "\u201c", "rq": "\u201d", "C`": '"', "C'": '"', "Aq": "'", "aq": "'", "dq": '"'}
ROFF_DROP = re.compile(
    r"^[.'](?:if|ie|el|ds|nr|tr|so|ft|ne|na|nh|hy|ad|in|ti|ta|ll|ps|vs|rm|rr|ec|eo|cc|UC|ev|fl|lf|mso|hw|ss|cs|bd|"
    r"ul|cu|ig|ch|wh|it|em|pc|tc|lc|mc|pl|pn|po|pm|rn|di|da|as|am|ab|ce|cf|nx|rd|sy|pi|Sh_?|TH|Dd|Dt|Os|DT|PD|"
    r"UN|LINKSTYLE|ns|rs|bp|cp|do|ev|fc|fi|nf|hc|kern|ls|mk|nm|nn|os|rt|sv|tl|tm|vs|warn|while|break|"
    r"ENDSH|ad|EX|EE|ME|UE|TQ|RS|RE|Bl|El|Bd|Ed|Ek|Bk|ID|YS|SY|OP|TS|TE|T&|EQ|EN|PS|PE)\b")
ROFF_PARA = re.compile(r"^[.'](?:PP|LP|P|sp|br|HP|TP|ns|Pp|Lp|sp\s.*|IP\s*)$")


def roff_escapes(s):
    s = s.replace("\\\\", "\x00").replace("\\e", "\x00").replace("\\(rs", "\x00").replace("\\[rs]", "\x00")
    s = re.sub(r"\\f(?:\[[^\]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\s[-+]?(?:\d|\(\d\d|\[\d+\])", "", s)
    s = re.sub(r"\\\[([^\]]+)\]", lambda m: ROFF_CHARS.get(m.group(1), "") if len(m.group(1)) > 1 and not
               m.group(1).startswith("u") else (chr(int(m.group(1)[1:], 16)) if re.fullmatch(r"u[0-9A-Fa-f]{4,6}", m.group(1)) else ""), s)
    s = re.sub(r"\\\((..)", lambda m: ROFF_CHARS.get(m.group(1), ""), s)
    s = re.sub(r"\\\*(?:\[([^\]]*)\]|\((..)|(.))", lambda m: ROFF_STRINGS.get(m.group(1) or m.group(2) or m.group(3), ""), s)
    s = re.sub(r"\\n(?:\[[^\]]*\]|\(..|.)", "", s)
    s = re.sub(r"\\[hvwlLoxbDNZXkCRbz]'[^']*'", "", s)
    s = re.sub(r"\\[kz].", "", s)
    s = s.replace("\\-", "-").replace("\\ ", " ").replace("\\~", " ").replace("\\0", " ")
    s = s.replace("\\'", "\u00b4").replace("\\`", "`").replace("\\.", ".")
    s = re.sub(r"\\[&|^,/:%!)\"{}]", "", s)
    s = re.sub(r"\\c$", "", s)
    s = re.sub(r"\\(.)", r"\1", s)
    return s.replace("\x00", "\\")


def roff_args(rest):
    args, cur, q, any_ = [], [], False, False
    i = 0
    while i < len(rest):
        c = rest[i]
        if q:
            if c == '"':
                if i + 1 < len(rest) and rest[i + 1] == '"':
                    cur.append('"')
                    i += 2
                    continue
                q = False
            else:
                cur.append(c)
        elif c == '"':
            q, any_ = True, True
        elif c in " \t":
            if cur or any_:
                args.append("".join(cur))
                cur, any_ = [], False
        else:
            cur.append(c)
        i += 1
    if cur or any_:
        args.append("".join(cur))
    return args


def conv_roff(path):
    out = []
    lines = read_text(path).split("\n")
    skip_until = None
    brace = 0
    cont = ""
    for ln in lines:
        if cont:
            ln, cont = cont + ln, ""
        if ln.endswith("\\") and not ln.endswith("\\\\"):
            cont = ln[:-1]
            continue
        if skip_until:
            if ln.strip() == skip_until:
                skip_until = None
            continue
        if ln.startswith(('.\\"', "'\\\"", '.\\#', "\\\"")) or ln.strip() == ".":
            continue
        if brace:
            brace += ln.count("\\{") - ln.count("\\}")
            brace = max(brace, 0)
            continue
        m = re.match(r"^[.'](de|de1|am|ig)\b[ \t]*(\w*)[ \t]*(\w*)", ln)
        if m:
            end = "." + m.group(3) if m.group(1) in ("de", "de1", "am") and m.group(3) else ".."
            if m.group(1) == "ig":
                end = "." + m.group(2) if m.group(2) else ".."
            skip_until = end
            continue
        if re.match(r"^[.']\s*(if|ie|el)\b", ln) and "\\{" in ln:
            brace = max(ln.count("\\{") - ln.count("\\}"), 0)
            continue
        if ln.startswith((".", "'")):
            if ROFF_PARA.match(ln):
                out.append("")
                continue
            m = re.match(r"^[.']\s*([A-Za-z]+\w*)\s*(.*)$", ln)
            if not m:
                continue
            mac, rest = m.group(1), m.group(2)
            args = roff_args(rest)
            if mac in ("SH", "SS", "Sh", "Ss"):
                out.append("")
                out.append(roff_escapes(" ".join(args)))
                out.append("")
            elif mac in ("B", "I", "SM", "SB", "Nm", "Nd", "Ar", "Fl", "Cm", "Pa", "Li", "Ql", "Dq", "Sq", "Em"):
                out.append(roff_escapes(" ".join(args)))
            elif mac in ("BR", "RB", "IR", "RI", "BI", "IB"):
                out.append(roff_escapes("".join(args)))
            elif mac == "IP":
                out.append("")
                if args and args[0] not in ("", "\\(bu", "\\[bu]", "*", "-", "o"):
                    out.append(roff_escapes(args[0]))
                elif args:
                    out.append("-")
            elif mac in ("UR", "MT"):
                pass
            elif mac in ("TP", "HP", "PP", "LP", "P", "Pp"):
                out.append("")
            continue
        out.append(roff_escapes(ln))
    text = "\n".join(out)
    return text


# ---------------------------------------------------------------------------------------------------
# GNU info, vim help, AsciiDoc, plain text

def conv_info(path):
    text = read_text(path)
    out = []
    for node in text.split("\x1f"):
        node = node.lstrip("\n")
        if node.startswith(("Tag Table:", "End Tag Table", "Indirect:", "Local Variables", "\x08")):
            continue
        lines = node.split("\n")
        if lines and lines[0].startswith("File:"):
            lines = lines[1:]
        elif lines and "produced by makeinfo" in lines[0]:
            continue
        keep = []
        in_menu = False
        for ln in lines:
            if ln.startswith("* Menu:"):
                in_menu = True
                continue
            if in_menu:
                if ln.startswith("* ") or ln.startswith(" ") or not ln.strip():
                    continue
                in_menu = False
            if re.match(r"^\s*([*=\-.])\1{2,}\s*$", ln):
                continue
            ln = re.sub(r"\*[Nn]ote\s+([^:]*?)::", r"\1", ln)
            ln = re.sub(r"\*[Nn]ote\s+([^:]*?):\s*[^.,]*[.,]", r"\1", ln)
            keep.append(ln)
        out.append("\n".join(keep))
    return "\n\n".join(out)


def conv_vimhelp(path):
    out = []
    for ln in read_text(path).split("\n"):
        if re.match(r"^\s*[=\-]{6,}\s*$", ln) or re.match(r"^\s*vim:.*:$", ln):
            continue
        ln = re.sub(r"(?<!\S)\*[^*\s|]+\*(?=\s|$)", "", ln)
        ln = re.sub(r"\|([^|\s]+)\|", r"\1", ln)
        ln = re.sub(r"\s*~$", "", ln)
        if ln.strip() == "<":
            continue
        if ln.endswith(" >") or ln == ">":
            ln = ln[:-1]
        out.append(ln.rstrip())
    return "\n".join(out)


def conv_asciidoc(path):
    out = []
    for ln in read_text(path).split("\n"):
        st = ln.strip()
        if re.match(r"^([-=~_.+*/])\1{3,}$", st) or st == "+" or re.match(r"^\[\[?[^\]]*\]\]?$", st):
            continue
        if re.match(r"^(include|ifdef|ifndef|endif|ifeval)::", st) or st.startswith("//"):
            continue
        if re.match(r"^:[\w-]+:", st):
            continue
        ln = re.sub(r"link(?:git|gitfile)?:([\w./-]+)\[(\d)\]", r"\1(\2)", ln)
        ln = re.sub(r"<<[^,>]*,\s*([^>]*)>>", r"\1", ln)
        ln = re.sub(r"<<([^>]*)>>", r"\1", ln)
        ln = re.sub(r"\{[\w-]+\}", "", ln) if "{litdd}" not in ln else ln.replace("{litdd}", "--")
        out.append(ln)
    return "\n".join(out)


def conv_text(path):
    return read_text(path)


def conv_jargon(path):
    t = read_text(path)
    t = re.sub(r"\{([^{}\n]*)\}", r"\1", t)
    return "\n".join(ln.strip() for ln in t.split("\n"))


# ---------------------------------------------------------------------------------------------------
# Units that are grouped: dictd dictionaries, fortunes, the KJV Bible

def b64num(s):
    alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    v = 0
    for c in s:
        v = v * 64 + alpha.index(c)
    return v


def dictd_entries(dict_path):
    """The entries of a dictd dictionary (.dict.dz + .index), each once, in file order."""
    data = read_bytes(dict_path)
    index = dict_path[: -len(".dict.dz")] + ".index" if dict_path.endswith(".dict.dz") else dict_path + ".index"
    spans = set()
    with open(index, "rb") as f:
        for raw in f:
            parts = raw.rstrip(b"\n").split(b"\t")
            if len(parts) < 3 or parts[0].startswith(b"00-database") or parts[0].startswith(b"00database"):
                continue
            try:
                spans.add((b64num(parts[1].decode()), b64num(parts[2].decode())))
            except ValueError:
                continue
    for off, ln in sorted(spans):
        yield data[off: off + ln].decode("utf-8", "replace")


WEBSTER_TAG = re.compile(r"^\s*\[(?:1913 Webster|Webster 1913 Suppl\.|PJC|Century Dict\.|WordNet 1\.5|"
                         r"[^\]\n]{0,40}(?:Webster|Dict\.|Encyc\.|Cent\. Dict\.|PJC|RP|JC)[^\]\n]{0,20})\]\s*$")


GCIDE_CODE = "[A-Za-z^~=`.'\"]{1,8}"
GCIDE_CHARS = {
    "'e": "\u00e9", "`e": "\u00e8", '"o': "\u00f6", '"e': "\u00eb", '"u': "\u00fc", '"i': "\u00ef", '"a': "\u00e4",
    "'o": "\u00f3", "'a": "\u00e1", "'i": "\u00ed", "'u": "\u00fa", "^o": "\u00f4", "^u": "\u00fb", "^a": "\u00e2",
    "^e": "\u00ea", "^i": "\u00ee", "ae": "\u00e6", "oe": "\u0153", "eth": "\u00f0", "thorn": "\u00fe",
    "deg": "\u00b0", "sect": "\u00a7", "ng": "\u014b", "=a": "\u0101", "=e": "\u0113", "=o": "\u014d",
    "=u": "\u016b", "imac": "\u012b", "=y": "\u0233", "=ae": "\u01e3", "i^": "\u012d", "a^": "\u0103",
    "e^": "\u0115", "u^": "\u016d", "o^": "\u014f", "y^": "y", "~e": "e", ".a": "a", "aum": "\u00e4",
    "root": "\u221a", "add": "a", "asl": "a", "=oo": "oo", "oo^": "oo", ".u": "u", "udd": "u", "th": "th",
    "cced": "\u00e7", "~n": "\u00f1", "ntil": "\u00f1", "uum": "\u00fc", "oum": "\u00f6", "eum": "\u00eb",
    "ium": "\u00ef", "acir": "\u00e2", "ecir": "\u00ea", "ocir": "\u00f4", "ucir": "\u00fb", "icir": "\u00ee",
    "frac12": "\u00bd", "frac14": "\u00bc", "frac34": "\u00be", "times": "\u00d7", "divide": "\u00f7",
    "pound": "\u00a3", "cent": "\u00a2", "prime": "\u2032", "dprime": "\u2033",
}


def clean_dict_entry(e, flavor):
    lines = []
    for ln in e.split("\n"):
        if flavor == "gcide" and WEBSTER_TAG.match(ln):
            continue
        lines.append(ln.strip())
    t = "\n".join(lines)
    t = re.sub(r"\{([^{}]*)\}", r"\1", t)   # cross-reference braces
    if flavor == "gcide":
        t = re.sub(r"\\[^\\\s][^\\\n]{0,60}?\\", "", t)  # pronunciations: \Co*ag"u*late\
        t = re.sub(r"\s*\([^()\n]*\[" + GCIDE_CODE + r"\][^()\n]*\)", "", t)  # and (f[imac]v"-l[=e]f`)
        t = re.sub(r"\[(" + GCIDE_CODE + r")\]", lambda m: GCIDE_CHARS.get(m.group(1), m.group(0)), t)
        t = re.sub(r"  +", " ", t).replace(" ,", ",")
    t = re.sub(r"\n{3,}", "\n\n", t)
    return t.strip()


def wordnet_entries(dict_path, seen_glosses):
    """WordNet repeats a synset's gloss under every word of the synset: each gloss is kept only once."""
    for e in dictd_entries(dict_path):
        lines = e.split("\n")
        head = lines[0].strip()
        body = " ".join(ln.strip() for ln in lines[1:] if ln.strip())
        senses = re.split(r"(?:^|\s)(?:(n|v|adj|adv)\s+)?(\d+):\s", " " + body)
        # re.split: [pre, pos, num, text, pos, num, text, ...]
        out, pos = [], ""
        for k in range(1, len(senses) - 2, 3):
            p, num, txt = senses[k], senses[k + 1], senses[k + 2].strip()
            if p:
                pos = {"n": "noun", "v": "verb", "adj": "adjective", "adv": "adverb"}[p]
            gloss = re.sub(r"\s*\[(?:syn|ant|also)[^\]]*\]", "", txt).strip()
            key = re.sub(r"\W+", " ", gloss.lower()).strip()
            if not key or key in seen_glosses:
                continue
            seen_glosses.add(key)
            txt = re.sub(r"\{([^{}]*)\}", r"\1", txt)
            txt = re.sub(r"\[syn:\s*([^\]]*)\]", r"(synonyms: \1)", txt)
            txt = re.sub(r"\[ant:\s*([^\]]*)\]", r"(antonyms: \1)", txt)
            txt = re.sub(r"\[also:\s*([^\]]*)\]", r"(also: \1)", txt)
            out.append(f"{head} ({pos}): {txt}" if pos else f"{head}: {txt}")
        if out:
            yield "\n".join(out)


def group(units, sep="\n\n"):
    cur, size = [], 0
    for u in units:
        u = u.strip()
        if not u:
            continue
        n = len(u.encode("utf-8")) + len(sep)
        if cur and size + n > GROUP_DOC:
            yield sep.join(cur)
            cur, size = [], 0
        cur.append(u)
        size += n
    if cur:
        yield sep.join(cur)


def fortunes(path):
    text = read_text(path)
    return [f for f in re.split(r"(?m)^%\s*$", text) if f.strip()]


def bible_chapters(bin_path, datadir):
    r = subprocess.run([bin_path, "-l", "100000", "-p", datadir, "gen1:1-rev22:21"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    text = r.stdout.decode("utf-8", "replace")
    chap, verses = None, []
    for ln in text.split("\n"):
        if not ln.strip():
            continue
        if not ln[0].isspace():
            if chap and verses:
                yield chap + "\n\n" + " ".join(verses)
            chap, verses = ln.strip(), []
        else:
            m = re.match(r"^\s+\d+\s+(.*)$", ln)
            verses.append(m.group(1).strip() if m else ln.strip())
    if chap and verses:
        yield chap + "\n\n" + " ".join(verses)


# ---------------------------------------------------------------------------------------------------
# Which files of which package, through which converter. Paths are relative to the package's root,
# matched with re.search; the first rule that matches a file decides. ("skip", re) rules exclude.

CONVERTERS = {"html": conv_html, "rst": conv_rst, "pod": conv_pod, "roff": conv_roff, "info": conv_info,
              "vimhelp": conv_vimhelp, "asciidoc": conv_asciidoc, "text": conv_text,
              "jargon": conv_jargon}

RULES = {
    "linux-doc-6.1": [
        ("skip", r"/Documentation/(translations|devicetree|sphinx|sphinx-static|output)/"),
        ("rst", r"^usr/share/doc/linux-doc-[^/]+/Documentation/.*\.rst\.gz$"),
        ("text", r"^usr/share/doc/linux-doc-[^/]+/Documentation/.*\.txt\.gz$"),
    ],
    "perl-doc": [
        ("pod", r"^usr/share/perl/[^/]+/pod/[^/]+\.pod$"),
        ("roff", r"^usr/share/man/man3/[^/]+\.3perl\.gz$"),
    ],
    "python3.11-doc": [
        ("rst", r"^usr/share/doc/python3\.11/html/_sources/.*\.rst\.txt$"),
    ],
    "postgresql-doc-15": [
        ("skip", r"/(bookindex|search|genindex)\.html$"),
        ("html", r"^usr/share/doc/postgresql-doc-15/html/[^/]+\.html$"),
    ],
    "python-django-doc": [
        ("skip", r"/html/(_modules|_static|_images)/|/(genindex|py-modindex|search|contents)\.html$"),
        ("html", r"^usr/share/doc/python-django-doc/html/.*\.html$"),
    ],
    "sqlite3-doc": [
        ("skip", r"/(syntax|search\.d|images)/|/(sitemap|keyword_index|toc|doclist|docsapp|index)\.html$"),
        ("html", r"^usr/share/doc/sqlite3/.*\.html$"),
    ],
    "gimp-help-en": [
        ("html", r"^usr/share/gimp/2\.0/help/en/.*\.html$"),
    ],
    "debian-handbook": [
        ("skip", r"/(index|ix01)\.html$"),
        ("html", r"^usr/share/doc/debian-handbook/html/en-US/[^/]+\.html$"),
    ],
    "debian-reference-en": [
        ("text", r"^usr/share/debian-reference/debian-reference\.en\.txt\.gz$"),
    ],
    "debian-policy": [
        ("text", r"^usr/share/doc/debian-policy/(fhs/)?[^/]+\.txt\.gz$"),
    ],
    "developers-reference": [
        ("rst", r"^usr/share/developers-reference/_sources/.*\.rst\.txt$"),
    ],
    "debian-history": [
        ("text", r"^usr/share/doc/debian-history/docs/project-history\.en\.txt\.gz$"),
    ],
    "rust-doc": [
        ("skip", r"/(print|toc|404|index)\.html$|/theme/"),
        ("html", r"^usr/share/doc/rust-doc/html/(book|reference|nomicon|rust-by-example|edition-guide|"
                 r"embedded-book|rustc|rustdoc|cargo)/.*\.html$"),
    ],
    "git-doc": [
        ("skip", r"/(cmds-|mergetools-|config/|includes/)|/(gitweb|asciidoc|manpage)"),
        ("asciidoc", r"^usr/share/doc/git-doc/.*\.txt$"),
    ],
    "vim-runtime": [
        ("vimhelp", r"^usr/share/vim/vim\d+/doc/[^/]+\.txt$"),
    ],
    "manpages": [("roff", r"^usr/share/man/man\d/[^/]+\.gz$")],
    "manpages-dev": [("roff", r"^usr/share/man/man\d/[^/]+\.gz$")],
    "zsh-doc": [("info", r"^usr/share/info/zsh\.info(-\d+)?\.gz$")],
    "bash-doc": [("info", r"^usr/share/info/bash\.info\.gz$")],
    "gnu-standards": [("info", r"^usr/share/info/[^/]+\.info\.gz$")],
    "abs-guide": [
        ("skip", r"/(index|toc|refs)\.html$"),
        ("html", r"^usr/share/doc/abs-guide/html/.*\.html$"),
    ],
    "wireshark-doc": [
        ("html", r"^usr/share/doc/wireshark/ws[ud]g_html_chunked/[^/]+\.html$"),
    ],
    "jargon-text": [("jargon", r"^usr/share/doc/jargon-text/jargon\.txt\.gz$")],
}
DICTS = {"dict-gcide": "gcide", "dict-foldoc": "foldoc", "dict-devil": "devil", "dict-jargon": "jargon",
         "dict-wn": "wn"}


def files_of(root):
    res = []
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in files:
            p = os.path.join(d, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            res.append(os.path.relpath(p, root))
    res.sort(key=lambda s: s.encode("utf-8", "surrogateescape"))
    return res


def package_docs(pkg, root, args):
    """Yields the package's texts (before splitting) in a fixed order."""
    if pkg in DICTS:
        flavor = DICTS[pkg]
        dicts = [f for f in files_of(root) if f.endswith(".dict.dz")]
        seen = set()
        for f in dicts:
            path = os.path.join(root, f)
            if flavor == "wn":
                yield from group(wordnet_entries(path, seen))
            else:
                yield from group(clean_dict_entry(e, flavor) for e in dictd_entries(path))
        return
    if pkg == "fortunes":
        fdir = os.path.join(root, "usr/share/games/fortunes")
        for f in files_of(fdir):
            if "/" in f or f.endswith((".dat", ".u8")) or f in ("ascii-art", "art", "translate-me"):
                continue
            yield from group(fortunes(os.path.join(fdir, f)))
        return
    if pkg == "bible-kjv-text":
        if not args.bible_bin or not os.path.exists(args.bible_bin):
            print("docs-to-jsonl: bible-kjv-text: no bible program (bible-kjv); skipped", file=sys.stderr)
            return
        datadir = os.path.join(root, "usr/lib")
        try:
            yield from bible_chapters(args.bible_bin, datadir)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"docs-to-jsonl: bible-kjv-text: the bible program failed ({e}); skipped", file=sys.stderr)
        return
    rules = RULES.get(pkg)
    if rules is None:
        raise SystemExit(f"docs-to-jsonl: no rules for package {pkg}")
    for f in files_of(root):
        for kind, rx in rules:
            if re.search(rx, f):
                if kind != "skip":
                    yield CONVERTERS[kind](os.path.join(root, f))
                break


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", required=True, help="directory holding one unpacked tree per package")
    ap.add_argument("--out", required=True, help="output JSONL (written in place; the caller renames)")
    ap.add_argument("--stats", help="per-package TSV: package, documents, bytes")
    ap.add_argument("--bible-bin", help="the bible program of bible-kjv (reads bible-kjv-text's data)")
    ap.add_argument("packages", nargs="+")
    args = ap.parse_args()
    seen = set()
    total_docs = total_bytes = 0
    rows = []
    with open(args.out, "w", encoding="utf-8", newline="\n") as out:
        for pkg in args.packages:
            root = os.path.join(args.src, pkg)
            docs = nbytes = dups = short = 0
            for raw in package_docs(pkg, root, args):
                for t in split_long(tidy(raw)):
                    t = tidy(t)
                    b = t.encode("utf-8", "replace")  # lone surrogates cannot occur, but never write invalid UTF-8
                    if len(b) < MIN_DOC:
                        short += 1
                        continue
                    h = hashlib.sha1(b).digest()
                    if h in seen:
                        dups += 1
                        continue
                    seen.add(h)
                    out.write(json.dumps({"text": b.decode("utf-8"), "src": pkg}, ensure_ascii=False) + "\n")
                    docs += 1
                    nbytes += len(b)
            rows.append((pkg, docs, nbytes))
            total_docs += docs
            total_bytes += nbytes
            print(f"docs-to-jsonl: {pkg:24s} {docs:8d} documents {nbytes:12,d} bytes of text"
                  f"  ({short} short and {dups} repeated dropped)", file=sys.stderr, flush=True)
    print(f"docs-to-jsonl: {'total':24s} {total_docs:8d} documents {total_bytes:12,d} bytes of text",
          file=sys.stderr)
    if args.stats:
        with open(args.stats, "w") as f:
            f.write("package\tdocuments\tbytes\n")
            for r in rows:
                f.write("%s\t%d\t%d\n" % r)
            f.write("total\t%d\t%d\n" % (total_docs, total_bytes))


if __name__ == "__main__":
    main()
