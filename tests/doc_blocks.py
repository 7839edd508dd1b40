"""The fenced blocks of the documentation, for tests/docs_examples.sh.

  doc_blocks.py extract OUTDIR FILE.md...
      finds every fenced block (``` or ~~~) in the files and writes, for
      block number I, OUTDIR/I.body (its text) and a line of
      OUTDIR/blocks.tsv:
          I  KIND  INFO  FILE:LINE  NEEDS  PREPEND  EPOCHS  NOTE
      (tab-separated; an empty field is "-"). INFO is the info string,
      FILE:LINE the opening fence. KIND says what the test does with the block:
          sh       runs it with sh -e in a scratch folder
          console  one "$ COMMAND" line, then its output: runs COMMAND and
                   compares standard output ("..." stands for any text
                   within a line); the expected output is in I.expect
          cfg      a model file (or, with PREPEND, the end of one): trains it
          make     a Makefile (or the end of one, with PREPEND): runs make
          usage    command synopses ("dptrain CMD [--opt ...]"): each
                   command and option must be in that command's --help
          text     not a command: output samples, file layouts (nothing run)
          skip     not run here; NOTE is the reason (sh blocks still get
                   sh -n)
          error    a block the test cannot classify; NOTE says why
  doc_blocks.py match EXPECTED ACTUAL
      exit 0 when ACTUAL's lines match EXPECTED's ("..." matches any text
      within a line); else prints the first line that differs.

What a block needs is said in an HTML comment just before its opening
fence (blank lines may come between), which a reader of the rendered page
does not see:

  <!-- doc-test: needs model.cfg bc.h5; epochs 1 -->
  <!-- doc-test: prepend base.cfg -->
  <!-- doc-test: skip: REASON -->

"needs" names files the test provides in the block's folder, "prepend" one
of them put before the block's text, "epochs N" makes every `dptrain
train` of the block train N epochs (`--set train.epochs=N`), and "skip"
keeps the block from running, with the reason. The names are the test's
(tests/docs_examples.sh, "Files a block may need").

A block is refused (KIND error), so that no example goes unchecked by
mistake, when it has no info string, an info string other than those
above without a skip, a skip without a reason, an unknown clause, or when
a text block holds what looks like a command (a "$ " prompt, or a line
starting with mpirun, sbatch, scripts/ or a dptrain command). A doc-test
comment that no fence follows is refused too.
"""

import os
import re
import sys

RUN_KINDS = ("sh", "console", "cfg", "make", "usage")
COMMANDS = ("train", "eval", "predict", "plugins", "inspect", "summary",
            "check-plugin", "keys", "plan", "export", "convert")
LOOKS_LIKE_COMMAND = re.compile(
    r"^\s*(\$ |mpirun |sbatch |scripts/[a-z]|dptrain (%s)\b)" % "|".join(COMMANDS))
FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([^\s`]*)")
DIRECTIVE = re.compile(r"^\s*<!--\s*doc-test:(.*?)-->\s*$")


def parse_directive(text):
    """Returns (fields, error): fields has needs, prepend, epochs, skip."""
    fields = {"needs": [], "prepend": "", "epochs": "", "skip": ""}
    text = text.strip()
    if text.startswith("skip:"):
        fields["skip"] = text[len("skip:"):].strip()
        if not fields["skip"]:
            return fields, "'skip:' without a reason"
        return fields, None
    for clause in filter(None, (c.strip() for c in text.split(";"))):
        word, *args = clause.split()
        if word == "needs" and args:
            fields["needs"] += args
        elif word == "prepend" and len(args) == 1:
            fields["prepend"] = args[0]
        elif word == "epochs" and len(args) == 1 and args[0].isdigit():
            fields["epochs"] = args[0]
        else:
            return fields, ("unknown clause '%s' (it takes: needs FILE...; "
                            "prepend FILE; epochs N; or skip: REASON)" % clause)
    return fields, None


def blocks(path):
    """Yields (line, info, body lines, directive text or None) per block."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    pending = None          # (line, text) of a doc-test comment seen
    while i < len(lines):
        d = DIRECTIVE.match(lines[i])
        m = FENCE.match(lines[i])
        if d:
            if pending:
                yield pending[0], None, [], pending[1]
            pending = (i + 1, d.group(1))
        elif m:
            indent, fence, info = m.groups()
            start = i + 1
            body = []
            i += 1
            while i < len(lines):
                close = lines[i].strip()
                if (close.startswith(fence) and set(close) == {fence[0]}
                        and lines[i].startswith(indent)):
                    break
                body.append(lines[i][len(indent):] if lines[i].startswith(indent)
                            else lines[i].lstrip())
                i += 1
            yield start, info, body, pending[1] if pending else None
            pending = None
        elif lines[i].strip() and pending:
            yield pending[0], None, [], pending[1]
            pending = None
        i += 1
    if pending:
        yield pending[0], None, [], pending[1]


def classify(info, body, directive):
    """Returns (kind, fields, note)."""
    fields, err = parse_directive(directive or "")
    if err:
        return "error", fields, "doc-test comment: " + err
    if info is None:
        return "error", fields, "a doc-test comment that no fenced block follows"
    if fields["skip"]:
        return "skip", fields, fields["skip"]
    if info == "text":
        for line in body:
            if LOOKS_LIKE_COMMAND.match(line):
                return "error", fields, ("a text block with a command in it ('%s'): "
                                         "make it sh, console or usage" % line.strip())
        return "text", fields, ""
    if info in RUN_KINDS:
        if info == "console" and (not body or not body[0].startswith("$ ")
                                  or any(l.startswith("$ ") for l in body[1:])):
            return "error", fields, "a console block is one '$ COMMAND' line and its output"
        return info, fields, ""
    if not info:
        return "error", fields, ("a block without an info string: give it one of %s "
                                 "or text, or a skip with its reason"
                                 % ", ".join(RUN_KINDS))
    return "error", fields, ("info string '%s' is neither run (%s) nor text: "
                             "add <!-- doc-test: skip: REASON -->" % (info, ", ".join(RUN_KINDS)))


def extract(outdir, paths):
    os.makedirs(outdir, exist_ok=True)
    rows = []
    for path in paths:
        name = os.path.relpath(path, os.environ.get("top_srcdir", "."))
        for line, info, body, directive in blocks(path):
            kind, fields, note = classify(info, body, directive)
            n = len(rows) + 1
            text = body
            if kind == "console":
                text = [body[0][2:]]
                with open(os.path.join(outdir, "%d.expect" % n), "w") as f:
                    f.write("".join(l + "\n" for l in body[1:]))
            with open(os.path.join(outdir, "%d.body" % n), "w") as f:
                f.write("".join(l + "\n" for l in text))
            rows.append([str(n), kind, info or "", "%s:%d" % (name, line), " ".join(fields["needs"]),
                         fields["prepend"], fields["epochs"], note])
    with open(os.path.join(outdir, "blocks.tsv"), "w") as f:
        for row in rows:
            f.write("\t".join(v if v else "-" for v in row) + "\n")


def match(expected_path, actual_path):
    with open(expected_path) as f:
        expected = f.read().splitlines()
    with open(actual_path) as f:
        actual = f.read().splitlines()
    for i, want in enumerate(expected):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        got = actual[i] if i < len(actual) else None
        if got is None or not re.fullmatch(pattern, got):
            print("line %d differs:\n  documented: %s\n  printed:    %s"
                  % (i + 1, want, "(no line)" if got is None else got))
            return 1
    if len(actual) > len(expected):
        print("line %d was printed but is not documented: %s"
              % (len(expected) + 1, actual[len(expected)]))
        return 1
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "extract":
        extract(argv[2], argv[3:])
        return 0
    if len(argv) == 4 and argv[1] == "match":
        return match(argv[2], argv[3])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
