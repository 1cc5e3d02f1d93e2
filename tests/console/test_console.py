"""The staff console over HTTP: login, CSRF, roles, the edit-review-publish path, import/export, history.

(The same flows in a real browser are in tests/browser/.)
"""

from __future__ import annotations

import re

import aiohttp
import pytest
import yaml

from benchmarks.publishing import csrf_of, form_of
from console.auth import StaffAuth
from knowledge.curation import Role
from tests.support.console import PASSWORD, client_for
from tests.support.console import console_server as console_server  # the fixture: a console with staff accounts

KEY = "registration_who_when_how"


async def test_pages_need_login_and_send_security_headers(console_server):
    server, _ = console_server
    async with client_for(server, None) as client:
        response = await client.get("/", allow_redirects=False)
        assert response.status == 303 and response.headers["Location"] == "/login"
        response = await client.get(f"/entries/{KEY}", allow_redirects=False)
        assert response.headers["Location"].startswith("/login?next=")
        assert (await client.post("/training", data={})).status == 403
        login = await client.get("/login")
        assert "script-src 'none'" in login.headers["Content-Security-Policy"]
        assert login.headers["X-Frame-Options"] == "DENY"
        bad = await client.post(
            "/login", data={"username": "erin", "password": "wrong", "csrf": csrf_of(await login.text())}
        )
        assert bad.status == 401 and "Wrong user name or password" in await bad.text()


async def test_login_locks_out_after_repeated_failures(console_server):
    server, _ = console_server
    async with client_for(server, None) as client:
        token = csrf_of(await (await client.get("/login")).text())
        for _ in range(5):
            await client.post("/login", data={"username": "rita", "password": "nope", "csrf": token})
        locked = await client.post("/login", data={"username": "rita", "password": PASSWORD, "csrf": token})
        assert locked.status == 401


async def test_post_without_csrf_token_is_refused(console_server):
    server, _ = console_server
    async with client_for(server, "adam") as client:
        response = await client.post(f"/entries/{KEY}/submit", data={"csrf": "forged"})
        assert response.status == 403


async def test_edit_review_publish_and_history(console_server):
    server, _ = console_server
    async with client_for(server, "erin") as editor, client_for(server, "rita") as reviewer:
        page = await (await editor.get(f"/entries/{KEY}")).text()
        form = form_of(page)
        form["en_answer"] = form["en_answer"] + "\nEdited <b>by staff</b>."
        form["ru_variants"] += "\nгде встать на учёт иностранцу"
        form.update(action="submit", comment="clearer", csrf=csrf_of(page))
        saved = await editor.post(f"/entries/{KEY}/save", data=form)
        assert "Saved and submitted for review" in await saved.text()
        # The editor cannot publish; the reviewer can.
        page = await (await editor.get(f"/entries/{KEY}")).text()
        assert "Waiting for a reviewer" in page
        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        assert "What this draft changes" in page
        assert re.search(r"\n\+\s+Edited &lt;b&gt;by staff&lt;/b&gt;\.", page)
        published = await reviewer.post(f"/entries/{KEY}/publish", data={"csrf": csrf_of(page), "comment": "ok"})
        text = await published.text()
        assert "Published" in text and "retrained" in text
        assert "Edited &lt;b&gt;by staff&lt;/b&gt;." in text  # shown escaped, never as markup
        history = await (await reviewer.get(f"/entries/{KEY}/history")).text()
        assert "publish by rita" in history and "+" in history  # the publish and its diff


async def test_invalid_entry_is_refused_with_reasons_and_input_kept(console_server):
    server, _ = console_server
    async with client_for(server, "erin") as client:
        page = await (await client.get("/entries/new")).text()
        response = await client.post(
            "/entries/new",
            data={
                "csrf": csrf_of(page),
                "key": "lost_passport_abroad",
                "topic": "lost_or_late",
                "legal_source": "Migration Code",
                "en_question": "Lost my passport",
                "en_answer": "short",
                "action": "save",
            },
        )
        text = await response.text()
        assert response.status == 400
        assert "missing" in text.lower() or "at least" in text.lower()
        assert 'value="lost_passport_abroad"' in text


async def test_export_then_import_as_admin(console_server):
    server, _ = console_server
    async with client_for(server, "adam") as client:
        exported = await (await client.get("/export.yml")).text()
        entries = yaml.safe_load(exported)
        assert len(entries) >= 16
        entries[0]["texts"]["en"]["answer"] += " Imported change."
        page = await (await client.get("/import")).text()
        from aiohttp import FormData

        form = FormData()
        form.add_field("csrf", csrf_of(page))
        form.add_field("publish", "1")
        form.add_field("file", yaml.safe_dump(entries[:1], allow_unicode=True).encode(), filename="kb.yml")
        response = await client.post("/import", data=form)
        assert "Imported 1 entries and published them" in await response.text()
        again = yaml.safe_load(await (await client.get("/export.yml")).text())
        assert again[0]["texts"]["en"]["answer"].endswith("Imported change.")

        # An entry whose languages state different figures is refused whole, with the reason.
        entries[1]["texts"]["ru"]["answer"] += " Срок: 777 дней."
        form = FormData()
        form.add_field("csrf", csrf_of(page))
        form.add_field("publish", "1")
        form.add_field("file", yaml.safe_dump(entries[:2], allow_unicode=True).encode(), filename="kb.yml")
        refused = await client.post("/import", data=form)
        assert refused.status == 400 and "777" in await refused.text()
        kept = yaml.safe_load(await (await client.get("/export.yml")).text())
        assert "777" not in kept[1]["texts"]["ru"]["answer"]


async def test_only_admins_manage_users(console_server):
    server, _ = console_server
    async with client_for(server, "erin") as editor, client_for(server, "adam") as admin:
        assert (await editor.get("/users")).status == 403
        page = await (await admin.get("/users")).text()
        response = await admin.post(
            "/users", data={"csrf": csrf_of(page), "username": "newbie", "role": "editor", "password": "short"}
        )
        assert "Not saved" in await response.text()
        response = await admin.post(
            "/users",
            data={"csrf": csrf_of(page), "username": "newbie", "role": "editor", "password": "a much longer password"},
        )
        assert "newbie" in await response.text()


async def test_tickets_by_queue_and_state_with_times_and_redacted_transcripts(console_server):
    server, _ = console_server
    from console.web import STATE

    tickets = server.app[STATE].console.tickets
    waiting, _ = await tickets.open_ticket(501, "ru", "asked", [("user", "мой паспорт C01234567, помогите")])
    escalated, _ = await tickets.open_ticket(502, "en", "not_understood", [("user", "asdf")])
    await tickets.add_message(escalated.id, "staff:rita", "Hello, how can I help?")
    await tickets.escalate(escalated.id, "rita", "needs an officer")
    await tickets.resolve(escalated.id, "omar")
    await tickets.rate(escalated.id, 502, 1)

    async with client_for(server, "erin") as client:
        async with aiohttp.ClientSession() as anonymous:
            response = await anonymous.get(server.make_url("/tickets"), allow_redirects=False)
            assert response.status == 303, "tickets need a login"
        page = await (await client.get("/tickets")).text()
        assert f"#{waiting.id}" in page and f"#{escalated.id}" in page
        assert "C01234567" not in page and "[ID]" in page
        assert "<td>helpful</td>" in page and "not understood" in page
        assert page.count("<td>—</td>") >= 2, "no first response in the support queue's only ticket yet"
        only_officers = await (await client.get("/tickets?queue=officers&state=resolved")).text()
        assert f"#{escalated.id}" in only_officers and f'href="/tickets/{waiting.id}"' not in only_officers
        detail = await (await client.get(f"/tickets/{escalated.id}")).text()
        assert "needs an officer" in detail and "Hello, how can I help?" in detail and "staff:rita" in detail
        assert "escalated by rita" in detail
        detail = await (await client.get(f"/tickets/{waiting.id}")).text()
        assert "C01234567" not in detail and "[ID]" in detail
        assert (await client.get("/tickets/99999")).status == 404


async def test_staff_mark_entries_that_also_need_a_person(console_server):
    server, _ = console_server
    from console.web import STATE

    kb = server.app[STATE].console.kb
    async with client_for(server, "erin") as editor, client_for(server, "rita") as reviewer:
        page = await (await editor.get("/entries/contacts_emergency_help")).text()
        assert re.search(r'<input type="checkbox" name="needs_person"\s+checked>', page), "seeded as needing a person"
        page = await (await editor.get(f"/entries/{KEY}")).text()
        assert re.search(r'<input type="checkbox" name="needs_person"\s+>', page)
        form = form_of(page)
        form.update(needs_person="on", action="submit", comment="registration problems need people", csrf=csrf_of(page))
        await editor.post(f"/entries/{KEY}/save", data=form)
        page = await (await reviewer.get(f"/entries/{KEY}")).text()
        await reviewer.post(f"/entries/{KEY}/publish", data={"csrf": csrf_of(page), "comment": "ok"})
    assert (await kb.answer(KEY, "en")).needs_person
    assert not (await kb.answer("visa_evisa_asan", "en")).needs_person


async def test_the_training_page_tells_quick_updates_from_trainings_from_scratch(console_server, db_settings):
    from core.bootstrap import open_database
    from knowledge.models import TrainingRun

    server, _ = console_server
    database = await open_database(db_settings)
    try:
        async with database.sessions() as session, session.begin():
            session.add_all(
                [
                    TrainingRun(
                        status="succeeded", requested_by="adam", full=True, model="model-a.tar.gz", seconds=217.0
                    ),
                    TrainingRun(
                        status="succeeded",
                        requested_by="rita",
                        model="model-b.tar.gz",
                        finetuned_from="model-a.tar.gz",
                        seconds=164.0,
                    ),
                    TrainingRun(status="queued", requested_by="adam", full=True),
                ]
            )
    finally:
        await database.close()
    async with client_for(server, "rita") as client:
        page = await (await client.get("/training")).text()
    assert "quick update of model-a.tar.gz" in page
    assert page.count("from scratch (asked)") == 1 and "<td>from scratch</td>" in page
    assert "Retrain from scratch" in page and "4 quick updates in a row" in page


async def test_a_reset_unlocks_the_account_and_ends_its_sessions(console_server):
    """`console create-user` on an existing account is how a lost or leaked password is replaced."""
    from console.web import STATE

    server, _ = console_server
    auth: StaffAuth = server.app[STATE].console.auth
    async with client_for(server, "rita") as old_session, client_for(server, None) as stranger:
        token = csrf_of(await (await stranger.get("/login")).text())
        for _ in range(5):
            await stranger.post("/login", data={"username": "rita", "password": "nope", "csrf": token})
        new_password = "a brand new passphrase"
        await auth.create_user("rita", new_password, Role.reviewer)
        page = await old_session.get("/", allow_redirects=False)
        assert page.status in (302, 303) and "/login" in page.headers["Location"]  # logged out
        response = await stranger.post(
            "/login", data={"username": "rita", "password": new_password, "csrf": token, "next": "/"}
        )
        assert response.status == 200 and "Log out" in await response.text()  # and unlocked


@pytest.mark.parametrize("name", ["", " ", "a", "two words", "x" * 81])
async def test_user_names_that_cannot_be_told_apart_or_typed_are_refused(console_server, name):
    from console.web import STATE

    server, _ = console_server
    with pytest.raises(ValueError, match="user names"):
        await server.app[STATE].console.auth.create_user(name, PASSWORD, Role.editor)
