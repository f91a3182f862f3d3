#!/usr/bin/python3
"""Check that each manual page in docs/man/ agrees with its program's --help.

For every page NAME.1 the program NAME (found in --bin-dir) is run with --help, which must
exit 0 and start with "usage: NAME ..."; the usage is that line and the lines that continue it
(indented past "usage: "). The page is rendered with man-db and must:

  - render without a single warning (man --warnings, which runs groff with -ww);
  - have the sections NAME, SYNOPSIS, DESCRIPTION, OPTIONS, EXIT STATUS, EXAMPLES, SEE ALSO;
  - show the usage line, word for word, as the first line of its SYNOPSIS;
  - describe in OPTIONS exactly the options and operands of the usage line, plus --help
    (which the program has just shown it accepts), no more and no fewer; and every option that
    the rest of --help lists (an indented line starting with --NAME) too;
  - carry the project's version in its title line (.TH), when --version is given.

With --installed CMAKE BUILD_DIR it also installs the build (its default component) into a
temporary prefix and requires a manual page in --mandir for every program in --bindir, and a
program for every page: a program added to examples/ without a page fails.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

ARG = r"[A-Z][A-Z_]*(?::[A-Z][A-Z_]*)?"  # an option's argument: PORT, HOST:PORT
SECTIONS = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]


def usage_items(usage):
    """The options (with their argument names) and the operands of a usage line."""
    opts = re.findall(r"(--[a-z][a-z-]*)(?: (" + ARG + r")\b)?", usage)
    items = {o + (" " + a if a else "") for o, a in opts}
    rest = re.sub(r"--[a-z][a-z-]*(?: " + ARG + r"\b)?", "", usage)
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
        if tag.startswith("--") and len(words) > 1 and re.fullmatch(ARG, words[1]):
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
    lines = r.stdout.splitlines()
    m = re.fullmatch(r"usage: (" + re.escape(name) + r"\b.*)", lines[0]) if lines else None
    if r.returncode != 0 or not m:
        return [f"{name} --help: exit {r.returncode}, printed {r.stdout!r}, no usage line first"]
    k = 1
    while k < len(lines) and re.match(r" {7,}\S", lines[k]):
        k += 1
    usage = " ".join(" ".join([m.group(1)] + lines[1:k]).split())
    listed = {re.match(r"\s+(--[a-z][a-z-]*)", line).group(1) for line in lines[k:]
              if re.match(r"\s+--[a-z]", line)}

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
    for opt in sorted(listed - {t.split()[0] for t in have}):
        problems.append(f"{page}: OPTIONS does not describe {opt!r}, listed by --help")
    if version:
        with open(page, encoding="utf-8") as f:
            th = next((line for line in f if line.startswith(".TH ")), "")
        if f'"libnetlab {version}"' not in th:
            problems.append(f"{page}: .TH line does not say libnetlab {version}: {th.strip()}")
    return problems


def installed(cmake, build_dir, bindir, mandir):
    """Installs the build into a temporary prefix; returns the problems: a program without a
    manual page, or a page without a program."""
    with tempfile.TemporaryDirectory() as prefix:
        r = subprocess.run([cmake, "--install", build_dir, "--prefix", prefix,
                            "--component", "Unspecified"], capture_output=True, text=True,
                           timeout=120)
        if r.returncode != 0:
            return [f"cmake --install: exit {r.returncode}: {r.stdout}{r.stderr}"]
        bin_path, man_path = os.path.join(prefix, bindir), os.path.join(prefix, mandir, "man1")
        progs = set(os.listdir(bin_path)) if os.path.isdir(bin_path) else set()
        pages = {p[:-2] for p in os.listdir(man_path) if p.endswith(".1")} \
            if os.path.isdir(man_path) else set()
    problems = [f"{p}: installed in {bindir}, but no manual page is installed (docs/man/{p}.1, "
                f"listed in docs/CMakeLists.txt)" for p in sorted(progs - pages)]
    problems += [f"{p}.1: installed, but no program {p} is" for p in sorted(pages - progs)]
    if not progs:
        problems.append(f"no program installed in {bindir}: nothing to check")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bin-dir", required=True, help="where the programs are")
    ap.add_argument("--version", help="the project version the pages must carry")
    ap.add_argument("--installed", nargs=2, metavar=("CMAKE", "BUILD_DIR"),
                    help="also install the build and require a page for every program")
    ap.add_argument("--bindir", default="bin", help="programs' directory in the prefix")
    ap.add_argument("--mandir", default="share/man", help="manual pages' directory in the prefix")
    ap.add_argument("pages", nargs="+", help="manual pages, NAME.1")
    args = ap.parse_args()
    problems = installed(*args.installed, args.bindir, args.mandir) if args.installed else []
    for page in args.pages:
        problems += check(page, args.bin_dir, args.version)
    for p in problems:
        print(p, file=sys.stderr)
    print(f"mancheck: {len(args.pages)} page(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
