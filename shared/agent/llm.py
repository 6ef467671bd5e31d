"""Pick the turn's chat model: Gemini on Vertex AI when configured, else the offline model.

Settings (``shared.settings``): ``PILOTO_LLM`` (``vertex`` or ``offline``), ``PILOTO_GEMINI_MODEL``,
``PILOTO_VERTEX_LOCATION``, ``PILOTO_LLM_TIMEOUT_SECONDS`` and ``GOOGLE_CLOUD_PROJECT``. The
Gemini client is imported only when chosen, so the offline path and the tests never load it.
"""

from __future__ import annotations

from langchain_core.language_models import BaseChatModel

from shared.agent.offline import OfflineChatModel
from shared.settings import Settings


def chat_model_from_settings(settings: Settings) -> BaseChatModel:
    """Return Gemini on Vertex AI when ``PILOTO_LLM=vertex``, otherwise the offline model."""
    if settings.llm == "offline":
        return OfflineChatModel()
    from langchain_google_genai import ChatGoogleGenerativeAI

    return ChatGoogleGenerativeAI(
        model=settings.gemini_model,
        vertexai=True,
        project=settings.project_id,
        location=settings.vertex_location,
        temperature=0.2,
        timeout=settings.llm_timeout_seconds,
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
