#!/usr/bin/python3
"""Check that each manual page in docs/man/ agrees with its program's --help.

For every page NAME.1 the program NAME (found in --bin-dir) is run with --help, which must
exit 0 and print one line, "usage: NAME ...". The page is rendered with man-db and must:

  - render without a single warning (man --warnings, which runs groff with -ww);
  - have the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES, SEE ALSO;
  - show the usage line, word for word, as the first line of its SYNOPSIS;
  - describe in OPTIONS exactly the options and operands of the usage line, plus --help
    (which the program has just shown it accepts), no more and no fewer;
  - carry the project's version in its title line (.TH), when --version is given.
"""
import argparse
import os
import re
import subprocess
import sys

SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]


def usage_items(usage):
    """The options (with their argument names) and the operands of a usage line."""
    opts = re.findall(r"(--[a-z][a-z-]*)(?: ([A-Z][A-Z_]*)\b)?", usage)
    items = {o + (" " + a if a else "") for o, a in opts}
    rest = re.sub(r"--[a-z][a-z-]*(?: [A-Z][A-Z_]*\b)?", "", usage)
    items |= set(re.findall(r"\b[A-Z][A-Z_]+\b", rest))
    return items


def sections(text):
    """Splits rendered man output into {section name: [body lines]}."""
    out, cur = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace():
            cur = line.strip()
            out.setdefault(cur, [])
        elif cur is not None:
            out[cur].append(line)
    return out


def option_tags(lines):
    """The tags of the tagged paragraphs in a rendered OPTIONS section: "--port P", "HOST"."""
    tags = set()
    indent = min((len(s) - len(s.lstrip()) for s in lines if s.strip()), default=0)
    for line in lines:
        if not line.strip() or len(line) - len(line.lstrip()) != indent:
            continue
        words = line.split()
        tag = words[0]
        # A tag that fits in the indent shares its line with the text that follows it.
        if tag.startswith("--") and len(words) > 1 and re.fullmatch(r"[A-Z][A-Z_]*", words[1]):
            tag += " " + words[1]
        tags.add(tag)
    return tags


def check(page, bin_dir, version):
    """Returns the problems found with one page (an empty list when it is right)."""
    name = os.path.basename(page)[:-2]
    problems = []
    try:
        r = subprocess.run([os.path.join(bin_dir, name), "--help"], capture_output=True,
                           text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as e:
        return [f"{name}: cannot run --help: {e}"]
    m = re.fullmatch(r"usage: (" + re.escape(name) + r"\b.*)\n", r.stdout)
    if r.returncode != 0 or not m:
        return [f"{name} --help: exit {r.returncode}, printed {r.stdout!r}, not one usage line"]
    usage = m.group(1)

    env = dict(os.environ, MANWIDTH="200", LC_ALL="C.UTF-8")
    env.pop("MAN_KEEP_FORMATTING", None)  # plain text, no overstrike, whatever the caller set
    man = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page], capture_output=True,
                         text=True, env=env, timeout=30)
    if man.returncode != 0 or man.stderr.strip():
        problems.append(f"{page}: man --warnings: exit {man.returncode}: {man.stderr.strip()}")
    secs = sections(man.stdout)
    for s in SECTIONS:
        if s not in secs:
            problems.append(f"{page}: no {s} section")
    synopsis = [" ".join(s.split()) for s in secs.get("SYNOPSIS", []) if s.strip()]
    if not synopsis or synopsis[0] != " ".join(usage.split()):
        problems.append(f"{page}: SYNOPSIS starts {synopsis[:1]}, --help says {usage!r}")
    want = usage_items(usage) | {"--help"}
    have = option_tags(secs.get("OPTIONS", []))
    for item in sorted(want - have):
        problems.append(f"{page}: OPTIONS does not describe {item!r} from --help")
    for item in sorted(have - want):
        problems.append(f"{page}: OPTIONS describes {item!r}, which --help does not show")
    if version:
        with open(page, encoding="utf-8") as f:
            th = next((line for line in f if line.startswith(".TH ")), "")
        if f'"libnetlab {version}"' not in th:
            problems.append(f"{page}: .TH line does not say libnetlab {version}: {th.strip()}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True, help="where the programs are")
    ap.add_argument("--version", help="the project version the pages must carry")
    ap.add_argument("pages", nargs="+", help="manual pages, NAME.1")
    args = ap.parse_args()
    problems = []
    for page in args.pages:
        problems += check(page, args.bin_dir, args.version)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"mancheck: {len(args.pages)} page(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
