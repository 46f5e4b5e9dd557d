"""Labelled PII cases for MaskPII: real-looking documents with planted e-mail addresses, IP
addresses and phone numbers (labelled spans: kind, start, end in code points) and near-misses
(version numbers, dates, timestamps, ISBNs, code, long digit strings, prices...: labelled as
spans that must stay). ``generated(seed)`` builds them from templates with a seeded RNG;
``HAND_WRITTEN`` are tricky cases written out, among them ``KNOWN_MISSES``: PII a reader sees
but the patterns leave by design (bare digit runs, space-only phone numbers, obfuscated
addresses), so that the recall measured counts them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Case:
    text: str = ""
    pii: list[tuple[str, int, int]] = field(default_factory=list)  # kind, start, end
    near: list[tuple[int, int]] = field(default_factory=list)  # must stay as they are

    def add(self, piece: str, kind: str | None = None) -> Case:
        """Append ``piece``; ``kind`` labels it (``"near"``: a near-miss)."""
        start = len(self.text)
        self.text += piece
        if kind == "near":
            self.near.append((start, len(self.text)))
        elif kind is not None:
            self.pii.append((kind, start, len(self.text)))
        return self


def case(*parts: str | tuple[str, str]) -> Case:
    """A case from plain strings and ``(kind, text)`` labelled pieces."""
    c = Case()
    for p in parts:
        c.add(*((p[1], p[0]) if isinstance(p, tuple) else (p,)))
    return c


FILLER = [
    "The quarterly report is attached for your review.",
    "We moved the meeting to Thursday afternoon because of the holiday.",
    "Please find the updated schedule below.",
    "Our support team answers most questions within one business day.",
    "The conference starts at nine and lunch will be served at noon.",
    "If you have any questions, do not hesitate to reach out.",
    "The server was restarted after the maintenance window closed.",
    "Thanks again for your patience while we sorted this out.",
    "Registration closes at the end of the month.",
    "The logs show the connection attempts in the order they arrived.",
]
FIRST = ["john", "maria", "li", "ahmed", "sofia", "k.tanaka", "olga", "peter", "fatima", "juan",
         "emily", "raj", "chloe", "noah", "ines"]
LAST = ["smith", "garcia", "wang", "hassan", "rossi", "tanaka", "ivanova", "mueller", "ali",
        "perez", "brown", "patel", "martin", "kim", "silva"]
DOMAINS = ["example.com", "mail.example.org", "example.co.uk", "uni-example.edu", "example.io",
           "corp.example.de", "example.net", "dept.example.ac.jp", "example.fr", "example.info"]


def _email(rng: random.Random) -> str:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}", f"{first[0]}{last}",
                        f"{first}_{last}", f"{first}+news", f"{last}.{first}"])
    if rng.random() < 0.15:
        local = local.capitalize()
    return f"{local}@{rng.choice(DOMAINS)}"


def _octet(rng: random.Random) -> int:
    return rng.choice([rng.randint(0, 9), rng.randint(10, 99), rng.randint(100, 255)])


def _ipv4(rng: random.Random) -> str:
    first = rng.choice([10, 172, 192, 203, 198, 8, 45, 81, 100, 151])
    return ".".join(str(o) for o in (first, *(_octet(rng) for _ in range(3))))


def _ipv6(rng: random.Random) -> str:
    groups = ["2001", "db8"] + [f"{rng.randint(0, 0xFFFF):x}" for _ in range(6)]
    if rng.random() < 0.3:
        groups = ["fe80", "0", "0", "0"] + groups[4:]
    style = rng.random()
    if style < 0.3:  # full, sometimes zero-padded
        return ":".join(g.zfill(4) if rng.random() < 0.5 else g for g in groups)
    i = rng.randint(2, 5)
    j = rng.randint(i + 1, 7)
    return ":".join(groups[:i]) + "::" + ":".join(groups[j:])


def _nanp(rng: random.Random) -> str:
    a, e, n = rng.randint(200, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice([
        f"{a}-{e}-{n:04d}", f"{a}.{e}.{n:04d}", f"({a}) {e}-{n:04d}", f"({a}){e}-{n:04d}",
        f"+1 {a} {e} {n:04d}", f"+1-{a}-{e}-{n:04d}", f"1-{a}-{e}-{n:04d}",
        f"+1 ({a}) {e}-{n:04d}", f"+1{a}{e}{n:04d}", f"1.{a}.{e}.{n:04d}",
    ])


def _international(rng: random.Random) -> str:
    d = lambda k: "".join(str(rng.randint(0, 9)) for _ in range(k))  # noqa: E731
    return rng.choice([
        f"+44 20 {d(4)} {d(4)}", f"+44 (0)20 {d(4)} {d(4)}", f"+49 30 {d(6)}",
        f"+33 1 {d(2)} {d(2)} {d(2)} {d(2)}", f"+81 3-{d(4)}-{d(4)}", f"+61 2 {d(4)} {d(4)}",
        f"+91 9{d(4)} {d(5)}", f"+86 10 {d(4)} {d(4)}", f"+34 91 {d(3)} {d(2)} {d(2)}",
        f"+7 495 {d(3)}-{d(2)}-{d(2)}", f"+353 1 {d(3)} {d(4)}", f"(+49) 89 {d(7)}",
        f"+39 06 {d(4)} {d(4)}", f"+55 11 9{d(4)}-{d(4)}",
    ])


PII_MAKERS = {
    "email": (_email, ["Contact {} for details.", "Email: {}.", "Write to <{}> today.",
                       "mailto:{}", "Reply to {}, not to this list.", "请联系{}谢谢。",
                       "(questions: {})", "Sent by {} on Monday."]),
    "ipv4": (_ipv4, ["The server at {} is down.", "Connect to {}:8080 first.",
                     "Open http://{}/admin in a browser.", "Failed login from {} port 22.",
                     "ssh root@{} -p 2222", "IP={};", "Gateway ({}) unreachable.",
                     "Requests came from {}."]),
    "ipv6": (_ipv6, ["Listening on [{}]:443.", "inet6 {}/64 scope global", "Address {} was "
                     "assigned.", "The AAAA record points to {}.", "ping6 {}"]),
    "phone": (lambda rng: _nanp(rng) if rng.random() < 0.6 else _international(rng),
              ["Call {} today.", "Tel: {}", "Phone: {}.", "Reach us at {} between 9 and 5.",
               "Fax {} (office).", "Questions? Dial {}!", "Mobile: {}, evenings only."]),
}


def _near_misses(rng: random.Random) -> list[tuple[str, str]]:
    """(template, near-miss) pairs: the near-miss must come out unchanged."""
    o = lambda: _octet(rng)  # noqa: E731
    quad = f"{rng.randint(1, 20)}.{o()}.{o()}.{o()}"
    digits = "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(11, 20)))
    year, month, day = rng.randint(1990, 2030), rng.randint(1, 12), rng.randint(1, 28)
    return [
        ("Upgrade to {} before Friday.", f"version {quad}"),
        ("The changelog for {} is long.", f"v{quad}"),
        ("Pin it: {}", f"pip install tool=={quad}"),
        ("See {} for the definitions.", f"Section {rng.randint(1, 9)}.{o()}.{o()}.{o()}"),
        ("The OID is {}.", f"1.3.6.1.4.1.{rng.randint(1000, 60000)}.{rng.randint(1, 9)}"),
        ("Released on {}.", f"{year}-{month:02d}-{day:02d}"),
        ("Logged at {}.", f"{year}-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:"
                          f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}Z"),
        ("The meeting is at {} sharp.", f"{rng.randint(1, 12)}:{rng.randint(0, 59):02d}"),
        ("Date: {}", f"{day:02d}.{month:02d}.{year}"),
        ("Due {}.", f"{month:02d}/{day:02d}/{year}"),
        ("Epoch {} in the logs.", f"{rng.randint(1_000_000_000, 1_999_999_999)}"),
        ("Order number {} shipped.", digits),
        ("It costs {} in total.", f"${rng.randint(1, 999)},{rng.randint(0, 999):03d}."
                                   f"{rng.randint(0, 99):02d}"),
        ("Prix: {}", f"{rng.randint(1, 99)}.{rng.randint(100, 999)}.{rng.randint(100, 999)},"
                     f"{rng.randint(0, 99):02d} €"),
        ("Card {} was declined.", "4111 1111 1111 1111"),
        ("The book ({}) is out of print.", f"ISBN 978-{rng.randint(0, 1)}-{rng.randint(100, 999)}"
                                            f"-{rng.randint(10000, 99999)}-{rng.randint(0, 9)}"),
        ("Catalogue: {}", f"ISBN-10: {rng.randint(0, 1)}-{rng.randint(100, 999)}-"
                          f"{rng.randint(10000, 99999)}-{rng.randint(0, 9)}"),
        ("Use the {} decorator.", "@property"),
        ("Routes: {} def index():", "@app.route('/')"),
        ("Prompt: {} ls -la", f"{rng.choice(FIRST).split('.')[-1]}@server{rng.randint(1, 9)}:~$"),
        ("Include {}.", "std::vector<int>"),
        ("Installed {}.", f"lodash@{rng.randint(1, 4)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}"),
        ("Logo file {} is missing.", f"logo@{rng.randint(2, 3)}x.png"),
        ("Clone {} first.", "git@github.com:example/repo.git"),
        ("Interface MAC {} is up.", "00:1a:2b:3c:4d:5e"),
        ("Screen ratio {}.", "16:9"),
        ("ZIP {}.", f"{rng.randint(10000, 99999)}-{rng.randint(1000, 9999)}"),
        ("Coordinates {}.", f"+{rng.randint(10, 60)}.{rng.randint(1000, 9999)}, "
                            f"-{rng.randint(10, 120)}.{rng.randint(1000, 9999)}"),
        ("Scores changed by {} points.", f"+{rng.randint(10, 30)} {rng.randint(10, 99)}"),
        ("Row: {}", f"{rng.randint(200, 900)} {rng.randint(200, 900)} {rng.randint(1000, 9999)}"),
        ("Invalid address {}.", f"{rng.randint(256, 999)}.{o()}.{o()}.{o()}"),
        ("Chain {}.", f"{o()}.{o()}.{o()}.{o()}.{o()}"),
        ("Serial {}.", f"{rng.randint(10, 99)}-{rng.randint(100, 999)}-{rng.randint(100, 999)}"
                       f"-{rng.randint(1000, 9999)}-{rng.randint(10, 99)}"),
        ("Typical placeholder {}.", "123-456-7890"),
        ("SSN-shaped {}.", f"{rng.randint(100, 899)}-{rng.randint(10, 99)}-"
                           f"{rng.randint(1000, 9999)}"),
        ("Ping {} on the forum.", f"@{rng.choice(LAST)}"),
    ]


def generated(seed: int = 0, n_docs: int = 120) -> list[Case]:
    """``n_docs`` documents of filler sentences with two PII items and two near-misses each."""
    rng = random.Random(seed)
    kinds = sorted(PII_MAKERS)
    cases = []
    for i in range(n_docs):
        c = Case()
        items: list[tuple[str, str, str]] = []  # (template, piece, label)
        for _ in range(2):
            kind = kinds[(i + len(items)) % len(kinds)] if rng.random() < 0.8 else rng.choice(kinds)
            make, templates = PII_MAKERS[kind]
            items.append((rng.choice(templates), make(rng), kind))
        for template, piece in rng.sample(_near_misses(rng), 2):
            items.append((template, piece, "near"))
        rng.shuffle(items)
        for template, piece, label in items:
            if c.text:
                c.add(rng.choice([" ", "\n", "  ", "\n\n"]))
            c.add(rng.choice(FILLER) + " ")
            before, after = template.split("{}")
            c.add(before).add(piece, label).add(after)
        cases.append(c)
    return cases


KNOWN_MISSES = [
    case("Call ", ("phone", "555 234 5678"), " after six."),   # spaces only, no +
    case("My number is ", ("phone", "5552345678"), "."),      # a bare digit run
    case("Write to ", ("email", "josé@example.com"), "."),    # non-ASCII local part
    case("Dial ", ("phone", "555-0199"), " from the lobby."),   # 7 digits, no area code
]

HAND_WRITTEN = [
    # several kinds in one sentence, adjacent to punctuation
    case("Mail ", ("email", "a.b-c@x.example.com"), ",", ("email", "d@example.org"), ";",
         ("ipv4", "10.0.0.1"), ",", ("ipv4", "10.0.0.2"), "."),
    case("(", ("phone", "212-555-0199"), ")/(", ("phone", "+1 (646) 555-0123"), ")"),
    case(("email", "first.last+tag@sub.example.museum"), " wrote:\n> hi"),
    case("Contact: ", ("email", "Info@Example.COM")),
    case("Server list:\n", ("ipv4", "255.255.255.0"), "\n", ("ipv4", "0.0.0.0"), "\n",
         ("ipv4", "127.0.0.1")),
    case("Loopback ", ("near", "::1"), " and unspecified ", ("near", "::"), " differ."),
    case("Slices ", ("near", "x[::2]"), ", ", ("near", "x[1::2]"), ", ", ("near", "a[24::3]"),
         ", ", ("near", "b[4::-1]"), ".\nExample 1::\n\n    code"),
    case("RFC ", ("near", "rfc5890.html#section-2.3.2.4"), "; kernel ",
         ("near", "5.10.102.1-microsoft-standard-WSL2"), "; ", ("near", "4.0.0.1-rc1"), "."),
    case("PCM ", ("near", "-2147483648"), " to ", ("near", "+2147483647"), " (int32)."),
    case("Mapped ", ("ipv6", "::ffff:192.0.2.128"), " and NAT64 ", ("ipv6", "64:ff9b::192.0.2.33"),
         "."),
    case("Full ", ("ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"), " and link-local ",
         ("ipv6", "fe80::1ff:fe23:4567:890a"), "%eth0."),
    case("URL http://[", ("ipv6", "2001:db8::8a2e:370:7334"), "]:8080/index.html"),
    case("Haskell: ", ("near", "f :: Int -> Int"), "; C++: ", ("near", "Add::Bee"), "; ",
         ("near", "dead::beef"), "."),
    case("Ruby ", ("near", "ActiveRecord::Base"), " and Rust ", ("near", "f32::consts::PI"), "."),
    case("Firmware ", ("near", "build 10.2.0.15"), " fixes it; see ", ("near", "§ 4.2.1.7"), "."),
    case("Requires ", ("near", "numpy>=1.26.4.0"), " or ", ("near", "scipy~=1.11.4.1"), "."),
    case("SNMP ", ("near", "1.3.6.1.2.1.1.5.0"), " is sysName."),
    case("Ticket ", ("near", "2024-0042-7781-0003-12"), " is closed."),
    case("Decorators: ", ("near", "@dataclass"), ", ", ("near", "@Override"), ", ",
         ("near", "@media screen"), "."),
    case("Shell: ", ("near", "root@localhost"), " # and ", ("near", "admin@router"), "."),
    case("Read ", ("near", "https://medium.com/@writer/a-post"), " now."),
    case("Assets ", ("near", "button@1.5x.png"), " and ", ("near", "hero@3x.jpg"), "."),
    case("Remote ", ("near", "git@gitlab.example.com:team/app.git"), "."),
    case("Not a domain: ", ("near", "a@b.c"), " nor ", ("near", "name@host"), "."),
    case("Verse ", ("near", "John 3:16"), " and time ", ("near", "23:59:59"), "."),
    case("Price ", ("near", "$1,299.99"), " or ", ("near", "USD 12,345,678"), "."),
    case("ISBN ", ("near", "ISBN 9780306406157"), " and ", ("near", "ISBN-13: 978-3-16-148410-0"),
         "."),
    case("Deltas ", ("near", "+2.5%"), " and ", ("near", "+1.5e-10"), "."),
    case("Ranges ", ("near", "pages 212-245"), " and ", ("near", "2019-2020"), "."),
    case("Attention: ", ("near", "q@k.transpose(-2, -1)"), " then ", ("near", "A@B.shape"),
         " and ", ("near", "X@W.T"), "."),
    case("CSS ", ("near", "a::before"), ", SQL ", ("near", "'2024-01-01'::date"), " and ",
         ("near", "$1::text"), "."),
    case("UA ", ("near", "Windows NT 10.0.19041.1"), " ", ("near", "Chrome/120.0.6099.109"), "."),
    case("Card ", ("near", "4111-1111-1111-1111"), ", id ",
         ("near", "550e8400-e29b-41d4-a716-446655440000"), "."),
    case("See ", ("near", "arXiv:2301.12345"), ", image ", ("near", "nginx:1.25.3"), ", ",
         ("near", "Python 3.11.4"), "."),
    case("IPs in prose: the range ", ("ipv4", "192.168.0.0"), "/16 covers ",
         ("ipv4", "192.168.1.1"), " too."),
    case("Hosts ", ("ipv4", "8.8.8.8"), " and ", ("ipv4", "1.1.1.1"), " resolve names."),
    case("Toll free ", ("phone", "1-800-555-0199"), " or ", ("phone", "1.888.555.0100"), "."),
    case("UK office ", ("phone", "+44 20 7946 0958"), ", Paris ", ("phone", "+33 1 23 45 67 89"),
         "."),
    case("Tokyo: ", ("phone", "+81 3-1234-5678"), "\nBerlin: ", ("phone", "(+49) 30 1234567")),
    case("E.164 ", ("phone", "+14155552671"), " is compact."),
    case("日本語の文章 ", ("email", "tanaka@example.jp"), " と ", ("ipv4", "203.0.113.5"),
         " です。"),
    case("Ünïcode ", ("phone", "+49 89 1234567"), " — ", ("ipv6", "2001:db8::1"), "."),
    *KNOWN_MISSES,
]


def all_cases(seed: int = 0) -> list[Case]:
    return generated(seed) + HAND_WRITTEN
