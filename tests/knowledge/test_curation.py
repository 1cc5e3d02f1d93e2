"""The curation workflow on both database backends: roles, four eyes, conflicts, history, restore."""

import pytest

from knowledge.curation import Actor, Curation, CurationError, Role, diff
from knowledge.seeding import open_seeded
from knowledge.store import KnowledgeBase

EDITOR = Actor("erin", Role.editor)
REVIEWER = Actor("rita", Role.reviewer)
ADMIN = Actor("adam", Role.admin)
KEY = "registration_who_when_how"


@pytest.fixture
async def curation(db_settings):
    database = await open_seeded(db_settings)
    published: list[tuple[str, bool, str]] = []

    async def on_published(key, variants_changed, actor):
        published.append((key, variants_changed, actor.username))

    yield Curation(database.sessions, on_published), KnowledgeBase(database.sessions), published
    await database.close()


async def test_edit_review_publish_is_live_at_once(curation):
    cur, kb, published = curation
    data = await kb.get(KEY)
    data.texts["en"].answer = "Register within 15 days of arrival. (edited)"
    await cur.save_draft(EDITOR, data, "clarify")
    assert "(edited)" not in (await kb.answer(KEY, "en")).text  # drafts are not live
    await cur.submit(EDITOR, KEY)
    with pytest.raises(CurationError, match="Only reviewers"):
        await cur.publish(EDITOR, KEY)
    assert await cur.publish(REVIEWER, KEY) is False  # only the answer changed: no retraining
    assert (await kb.answer(KEY, "en")).text.endswith("(edited)")
    assert published == [(KEY, False, "rita")]
    actions = [r.action for r in await cur.history(KEY)]
    assert actions[:3] == ["publish", "submit", "save"]


async def test_new_variant_asks_for_retraining(curation):
    cur, kb, published = curation
    data = await kb.get(KEY)
    data.texts["ru"].variants.append("как встать на учёт по месту пребывания")
    await cur.save_draft(EDITOR, data)
    await cur.submit(EDITOR, KEY)
    assert await cur.publish(ADMIN, KEY) is True
    assert published[-1][1] is True


async def test_a_question_of_another_entry_cannot_be_published(curation):
    cur, kb, published = curation
    data = await kb.get(KEY)
    other = await kb.get("registration_fines")
    live_variants = list(data.texts["en"].variants)
    data.texts["en"].variants.append(" " + other.texts["en"].variants[0].upper())
    await cur.save_draft(EDITOR, data)
    await cur.submit(EDITOR, KEY)
    with pytest.raises(CurationError, match=r"other entries.*registration_fines"):
        await cur.publish(REVIEWER, KEY)
    assert (await kb.get(KEY)).texts["en"].variants == live_variants  # nothing went live
    assert published == []


async def test_an_import_sharing_a_question_publishes_nothing(curation):
    cur, kb, published = curation
    first, second = await kb.get(KEY), await kb.get("registration_fines")
    first.texts["az"].answer = "Qeydiyyat 15 gün ərzində. (imported)"
    second.texts["az"].variants.append(first.texts["az"].question)
    with pytest.raises(CurationError, match="other entries"):
        await cur.import_entries(ADMIN, [first, second], publish=True)
    assert "(imported)" not in (await kb.answer(KEY, "az")).text  # the whole import rolled back
    assert published == []


async def test_four_eyes_and_review_lock(curation):
    cur, kb, _ = curation
    data = await kb.get(KEY)
    await cur.save_draft(REVIEWER, data)
    await cur.submit(REVIEWER, KEY)
    with pytest.raises(CurationError, match="own draft"):
        await cur.publish(REVIEWER, KEY)
    with pytest.raises(CurationError, match="in review"):
        await cur.save_draft(EDITOR, data)
    await cur.send_back(ADMIN, KEY, "please cite the article")
    view = await cur.view(KEY)
    assert view.draft_state == "draft" and view.draft_comment == "please cite the article"


async def test_stale_draft_cannot_overwrite_a_newer_version(curation):
    cur, kb, _ = curation
    data = await kb.get(KEY)
    await cur.save_draft(EDITOR, data)  # started from version 1
    await kb.upsert([data], actor="someone")  # live moves to version 2 meanwhile
    await cur.submit(EDITOR, KEY)
    with pytest.raises(CurationError, match="changed"):
        await cur.publish(REVIEWER, KEY)


async def test_restore_an_old_version(curation):
    cur, kb, _ = curation
    original = await kb.get(KEY)
    changed = original.model_copy(deep=True)
    changed.texts["az"].answer = "Tamamilə yeni mətn, səhvən dərc olunub."
    await cur.save_draft(EDITOR, changed)
    await cur.submit(EDITOR, KEY)
    await cur.publish(REVIEWER, KEY)
    first_publish = [r for r in await cur.history(KEY) if r.action == "publish"][-1]
    assert "Tamamilə yeni" in diff(original, changed)
    # Restore the version before the change: the seeded original was imported as the first revision?
    await cur.save_draft(EDITOR, original, "back to the original")
    await cur.submit(EDITOR, KEY)
    await cur.publish(ADMIN, KEY)
    key = await cur.restore(EDITOR, first_publish.id)
    assert key == KEY
    view = await cur.view(KEY)
    assert view.draft.texts["az"].answer.startswith("Tamamilə yeni")
    assert view.live.texts["az"].answer == original.texts["az"].answer


async def test_import_publish_needs_admin_and_review_path_creates_drafts(curation):
    cur, kb, _ = curation
    data = await kb.get(KEY)
    with pytest.raises(CurationError, match="Only admins"):
        await cur.import_entries(EDITOR, [data], publish=True)
    assert await cur.import_entries(EDITOR, [data], publish=False) == 1
    assert (await cur.view(KEY)).draft_state == "in_review"
    rows = await cur.list_entries(query="register")
    assert any(r.key == KEY and r.draft_state == "in_review" for r in rows)
