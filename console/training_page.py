"""Console: the model's training runs, the model the engines serve and each rollout's engine switches
(training/retraining.py, assistant/rollout.py); reviewers and admins can queue a training from scratch.
"""

from __future__ import annotations

from aiohttp import web

from console.web import _actor, _console, redirect, render


async def training_page(request: web.Request) -> web.Response:
    console = _console(request)
    return render(
        request,
        "training.html",
        runs=await console.retrainer.runs(),
        serving=await console.models.pointer(),
        rollouts=await console.models.recent(),
        finetunes_before_full=console.settings.finetunes_before_full,
    )


async def training_request(request: web.Request) -> web.StreamResponse:
    if not _actor(request).can_publish():
        raise redirect(request, "/training", "Only reviewers and admins can start a training.")
    await _console(request).retrainer.request(_actor(request).username, full=True)
    raise redirect(request, "/training", "Training from scratch queued.")


ROUTES = [
    web.get("/training", training_page),
    web.post("/training", training_request),
]
