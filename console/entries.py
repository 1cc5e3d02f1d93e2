"""Console: the knowledge base's entries: the list, an entry's page and form, the review steps (submit,
publish, send back, discard), an entry's history and restoring a revision, and YAML export and import.

Every staff member edits drafts; the services (knowledge.curation) decide who may publish or import.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from typing import Any

import yaml
from aiohttp import web
from pydantic import ValidationError

from console.paging import paging
from console.web import FORM, Handler, _actor, _console, redirect, render
from core.settings import LANGUAGES
from knowledge.consistency import problems
from knowledge.curation import CurationError, diff
from knowledge.models import Revision
from knowledge.schema import SEED_DIR, EntryData, dump_yaml, load_dir, parse_entries


async def entries(request: web.Request) -> web.Response:
    """The entries, a page at a time, with the question and the ratings in the language chosen (English
    unless another is asked for; the search looks in every language)."""
    console = _console(request)
    query, topic = request.query.get("q", "").strip(), request.query.get("topic", "")
    language = request.query.get("language", "en")
    language = language if language in LANGUAGES else "en"
    rows = await console.curation.list_entries(query, topic)
    page = paging(request, len(rows))
    return render(
        request,
        "entries.html",
        rows=rows[page.offset : page.offset + page.size],
        paging=page,
        q=query,
        topic=topic,
        language=language,
    )


def _facts_from_lines(text: str) -> list[dict[str, str]]:
    facts = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|", 2)]
        if len(parts) != 3:
            example = "“2026-12-06 | fee | …”"
            raise ValueError(f"time-bound facts, line {number}: write “date | kind | fact”, e.g. {example}")
        facts.append({"confirmed_on": parts[0], "kind": parts[1], "fact": parts[2]})
    return facts


def _lines(value: Any) -> list[str]:
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def _words(value: Any) -> list[str]:
    """A list field as the form shows it: words separated by commas or spaces."""
    return [word for word in str(value or "").replace(",", " ").split() if word]


def _form_to_data(form: Any, key: str) -> EntryData:
    texts = {}
    for lang in LANGUAGES:
        texts[lang] = {
            "question": str(form.get(f"{lang}_question", "")).strip(),
            "answer": str(form.get(f"{lang}_answer", "")).replace("\r\n", "\n").strip(),
            "source": str(form.get(f"{lang}_source", "")).strip() or None,
            "variants": _lines(form.get(f"{lang}_variants", "")),
            "follow_ups": _lines(form.get(f"{lang}_follow_ups", "")),
        }
    return EntryData.model_validate(
        {
            "key": key,
            "topic": form.get("topic", ""),
            "legal_source": str(form.get("legal_source", "")).strip(),
            "source_url": str(form.get("source_url", "")).strip() or None,
            "reviewed_on": form.get("reviewed_on") or dt.date.today().isoformat(),
            "review_state": form.get("review_state", "published"),
            "review_note": str(form.get("review_note", "")).strip() or None,
            "needs_person": form.get("needs_person") == "on",
            "dated_facts": _facts_from_lines(str(form.get("dated_facts", ""))),
            "subjects": _words(form.get("subjects", "")),
            "aspects": _words(form.get("aspects", "")),
            "related": _words(form.get("related", "")),
            "texts": texts,
        }
    )


def _errors(error: ValidationError) -> list[str]:
    messages = []
    for item in error.errors():
        where = " › ".join(str(part) for part in item["loc"] if part not in ("texts",))
        messages.append(f"{where}: {item['msg']}" if where else item["msg"])
    return messages


async def entry_page(request: web.Request) -> web.Response:
    console = _console(request)
    key = request.match_info["key"]
    view = await console.curation.view(key)
    if view is None:
        raise web.HTTPNotFound(text="No such entry.")
    shown = view.draft or view.live
    changes = diff(view.live, view.draft) if view.draft is not None else ""
    return render(
        request,
        "entry.html",
        view=view,
        data=shown,
        key=key,
        votes=await console.curation.votes(key),
        changes=changes,
        stale=view.draft is not None and view.live is not None and view.draft_base_version != view.version,
        marks=await console.upkeep.marks(key),
        problems=problems(shown) if shown is not None else [],
    )


async def new_entry_page(request: web.Request) -> web.Response:
    prefill = {"question": request.query.get("question", ""), "lang": request.query.get("lang", "en")}
    return render(
        request, "entry.html", view=None, data=None, key="", prefill=prefill, votes=None, stale=False, marks={}
    )


async def entry_save(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    form = request[FORM]
    key = request.match_info.get("key") or str(form.get("key", "")).strip()
    existing = await console.curation.view(key) if key else None
    if "key" not in request.match_info and existing is not None:
        return render(
            request,
            "entry.html",
            status=400,
            view=None,
            data=None,
            key=key,
            votes=None,
            stale=False,
            errors=[f"An entry with the key “{key}” exists already."],
            form=form,
            marks={},
        )
    try:
        data = _form_to_data(form, key)
        await console.curation.save_draft(_actor(request), data, str(form.get("comment", "")).strip() or None)
        if form.get("action") == "submit":
            await console.curation.submit(_actor(request), key)
    except ValueError as error:  # pydantic's ValidationError, or a malformed line of time-bound facts
        return render(
            request,
            "entry.html",
            status=400,
            view=existing,
            data=None,
            key=key,
            votes=None,
            stale=False,
            errors=_errors(error) if isinstance(error, ValidationError) else [str(error)],
            form=form,
            marks={},
        )
    except CurationError as error:
        raise redirect(request, f"/entries/{key}", str(error)) from None
    done = "Saved and submitted for review." if form.get("action") == "submit" else "Draft saved."
    raise redirect(request, f"/entries/{key}", done)


def _step(name: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        console = _console(request)
        key, form, actor = request.match_info["key"], request[FORM], _actor(request)
        comment = str(form.get("comment", "")).strip()
        try:
            if name == "submit":
                await console.curation.submit(actor, key)
                message = "Submitted for review."
            elif name == "publish":
                retrain = await console.curation.publish(actor, key, comment or None)
                message = "Published: users get the new answer now." + (
                    " The question variants changed, so the model is being retrained (see Training)." if retrain else ""
                )
            elif name == "send_back":
                await console.curation.send_back(actor, key, comment or "sent back without comment")
                message = "Sent back to the author."
            else:
                await console.curation.discard(actor, key)
                message = "Draft discarded."
        except CurationError as error:
            message = str(error)
        target = f"/entries/{key}" if name != "discard" or await console.curation.view(key) else "/entries"
        raise redirect(request, target, message)

    return handler


async def history_page(request: web.Request) -> web.Response:
    console = _console(request)
    key = request.match_info["key"]
    revisions = await console.curation.history(key)
    rows: list[tuple[Revision, str, str | None]] = []
    for index, revision in enumerate(revisions):
        older = revisions[index + 1] if index + 1 < len(revisions) else None
        new = EntryData.model_validate(revision.snapshot)
        if older is not None:
            rows.append((revision, diff(EntryData.model_validate(older.snapshot), new), None))
        elif revision.action != "seed" and (seeded := seed_entries().get(key)) is not None:
            # A database seeded before seeding wrote the history's first version: compare with the seed's.
            rows.append((revision, diff(seeded, new), "the seed's version"))
        else:
            rows.append((revision, diff(None, new), None))
    return render(request, "history.html", key=key, rows=rows)


@functools.cache
def seed_entries() -> dict[str, EntryData]:
    return {entry.key: entry for entry in load_dir(SEED_DIR)}


async def restore(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    try:
        key = await console.curation.restore(_actor(request), int(request.match_info["revision"]))
    except CurationError as error:
        raise redirect(request, "/entries", str(error)) from None
    raise redirect(request, f"/entries/{key}", "That version is now the draft: review and publish it to make it live.")


# ------------------------------------------------------------------ import / export


async def export_yaml(request: web.Request) -> web.Response:
    entries = await _console(request).kb.export()
    return web.Response(
        text=dump_yaml(entries),
        content_type="application/x-yaml",
        headers={"Content-Disposition": f'attachment; filename="knowledge-{dt.date.today().isoformat()}.yml"'},
    )


async def import_page(request: web.Request) -> web.Response:
    return render(request, "import.html")


async def import_submit(request: web.Request) -> web.StreamResponse:
    console = _console(request)
    form = request[FORM]
    upload = form.get("file")
    raw = upload.file.read() if hasattr(upload, "file") else str(form.get("text", "")).encode()
    try:
        # Parsing and validating a large file takes CPU time: in a thread, so the console keeps answering.
        entries = await asyncio.to_thread(parse_entries, raw)
        found = [f"{entry.key}: {problem}" for entry in entries for problem in problems(entry)]
        if found:  # the figures or terms of an entry's languages disagree: nothing is written
            return render(request, "import.html", status=400, errors=found)
        count = await console.curation.import_entries(_actor(request), entries, publish=bool(form.get("publish")))
    except ValidationError as error:
        return render(request, "import.html", status=400, errors=_errors(error))
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as error:  # includes schema.YamlRefused
        return render(request, "import.html", status=400, errors=[f"Could not read the file: {error}"])
    except CurationError as error:
        return render(request, "import.html", status=403, errors=[str(error)])
    raise redirect(
        request,
        "/entries",
        f"Imported {count} entries" + (" and published them." if form.get("publish") else " as drafts in review."),
    )


ROUTES = [
    web.get("/entries", entries),
    web.get("/entries/new", new_entry_page),
    web.post("/entries/new", entry_save),
    web.get("/entries/{key}", entry_page),
    web.post("/entries/{key}/save", entry_save),
    web.post("/entries/{key}/submit", _step("submit")),
    web.post("/entries/{key}/publish", _step("publish")),
    web.post("/entries/{key}/send-back", _step("send_back")),
    web.post("/entries/{key}/discard", _step("discard")),
    web.get("/entries/{key}/history", history_page),
    web.post("/revisions/{revision}/restore", restore),
    web.get("/export.yml", export_yaml),
    web.get("/import", import_page),
    web.post("/import", import_submit),
]
