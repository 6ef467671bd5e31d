"""Pick the turn's chat model: Gemini on Vertex AI when configured, else the offline model.

Variables: ``PILOTO_LLM`` (``vertex`` or ``offline``, default ``offline``), ``PILOTO_GEMINI_MODEL``
(default ``gemini-2.5-flash``), ``PILOTO_VERTEX_LOCATION`` (default ``us-central1``),
``PILOTO_LLM_TIMEOUT_SECONDS`` (default 20) and ``GOOGLE_CLOUD_PROJECT``. The Gemini client is
imported only when chosen, so the offline path and the tests never load it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from langchain_core.language_models import BaseChatModel

from shared.agent.offline import OfflineChatModel

DEFAULT_GEMINI_MODEL = "gemini-2.5-flash"
DEFAULT_VERTEX_LOCATION = "us-central1"
DEFAULT_TIMEOUT_SECONDS = 20.0


class ModelConfigError(RuntimeError):
    """The environment asks for a model it does not fully describe."""


def chat_model_from_env(environ: Mapping[str, str] | None = None) -> BaseChatModel:
    """Return Gemini on Vertex AI when ``PILOTO_LLM=vertex``, otherwise the offline model."""
    env = os.environ if environ is None else environ
    choice = env.get("PILOTO_LLM", "offline").strip().lower() or "offline"
    if choice == "offline":
        return OfflineChatModel()
    if choice != "vertex":
        raise ModelConfigError(f"PILOTO_LLM must be 'vertex' or 'offline', not {choice!r}")
    project = env.get("GOOGLE_CLOUD_PROJECT", "").strip()
    if not project:
        raise ModelConfigError("GOOGLE_CLOUD_PROJECT is required when PILOTO_LLM=vertex")
    try:
        timeout = float(env.get("PILOTO_LLM_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS))
    except ValueError as error:
        raise ModelConfigError("PILOTO_LLM_TIMEOUT_SECONDS must be a number of seconds") from error

    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model=env.get("PILOTO_GEMINI_MODEL", DEFAULT_GEMINI_MODEL),
        vertexai=True,
        project=project,
        location=env.get("PILOTO_VERTEX_LOCATION", DEFAULT_VERTEX_LOCATION),
        temperature=0.2,
        timeout=timeout,
        max_retries=1,
    )


def describe_model(chat_model: BaseChatModel) -> tuple[str, bool]:
    """Return the model's name for the decision log and whether it is the offline model."""
    if isinstance(chat_model, OfflineChatModel):
        return chat_model.model_name, True
    for attribute in ("model_name", "model"):
        value = getattr(chat_model, attribute, None)
        if isinstance(value, str) and value:
            return value.removeprefix("models/"), False
    return chat_model._llm_type, False
