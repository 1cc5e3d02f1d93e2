"""`python -m knowledge COMMAND`: the staff operations for scripts and CI.

import PATH [--publish]   YAML file or folder; drafts in review, or published at once with --publish
export [PATH]             the live entries as YAML (stdout without PATH)
validate PATH             check a YAML file or folder without importing it (exit 1 on errors): the schema, and
                          that the three languages state the same figures and use the glossary's legal terms
                          (knowledge/consistency.py, knowledge/glossary.yml); `import` refuses what this refuses
publish KEY               publish the entry's draft that is in review
Actions are recorded in the history as `cli:<user>` with the admin role: shell access is admin access.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from pathlib import Path

from pydantic import ValidationError

from core.settings import Settings
from knowledge.consistency import problems
from knowledge.curation import Actor, Curation, CurationError, Role
from knowledge.schema import EntryData, checked, dump_yaml, load_yaml
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase


def _load(path: Path) -> list[tuple[Path, list[EntryData]]]:
    """The entries of a file, or of each file of a folder (as `load_dir` reads them: every *.yml, checked as one
    set), with the file each came from."""
    files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
    loaded = [(file, load_yaml(file)) for file in files]
    checked([entry for _, entries in loaded for entry in entries])
    return loaded


def _checked_content(loaded: list[tuple[Path, list[EntryData]]]) -> list[EntryData] | None:
    """All the entries, or None after printing (to stderr) every figure that differs between an entry's languages
    and every wording the glossary rules out, with the entry's key and file."""
    found = [
        f"{entry.key} ({file.name}): {problem}"
        for file, entries in loaded
        for entry in entries
        for problem in problems(entry)
    ]
    if found:
        print(f"{len(found)} problems to fix before these entries can go in:", file=sys.stderr)
        for line in found:
            print(f"  {line}", file=sys.stderr)
        return None
    return [entry for _, entries in loaded for entry in entries]


async def run(args: argparse.Namespace, settings: Settings) -> int:
    entries: list[EntryData] = []
    if args.command in ("validate", "import"):
        # Checked before the database is opened: a refused file changes nothing.
        content = _checked_content(_load(Path(args.path)))
        if content is None:
            return 1
        entries = content
        if args.command == "validate":
            print(f"{len(entries)} entries are valid.")
            return 0
    actor = Actor(f"cli:{getpass.getuser()}", Role.admin)
    database = await open_seeded(settings)
    try:
        kb = KnowledgeBase(database.sessions)
        curation = Curation(database.sessions)
        if args.command == "import":
            count = await curation.import_entries(actor, entries, publish=args.publish)
            print(f"Imported {count} entries" + (" and published them." if args.publish else " as drafts in review."))
            if args.publish:
                print("Run `python -m training --reload` if question variants changed.")
        elif args.command == "export":
            text = dump_yaml(await kb.export())
            if args.path:
                Path(args.path).write_text(text, encoding="utf-8")  # noqa: ASYNC240 - the CLI's only task
            else:
                sys.stdout.write(text)
        elif args.command == "publish":
            retrain = await curation.publish(actor, args.key)
            print(f"Published {args.key}." + (" Question variants changed: retrain." if retrain else ""))
    finally:
        await database.close()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m knowledge", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    imp = sub.add_parser("import")
    imp.add_argument("path")
    imp.add_argument("--publish", action="store_true")
    exp = sub.add_parser("export")
    exp.add_argument("path", nargs="?")
    val = sub.add_parser("validate")
    val.add_argument("path")
    pub = sub.add_parser("publish")
    pub.add_argument("key")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args, Settings()))
    except ValidationError as error:
        print(f"Invalid entries:\n{error}", file=sys.stderr)
        return 1
    except (CurationError, ValueError, OSError) as error:
        print(f"Refused: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
