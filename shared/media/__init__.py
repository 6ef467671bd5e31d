"""Media a lead sends: fetched from the provider, checked, understood, then forgotten.

``fetch.py`` downloads one attachment with its provider's auth (Meta media id → URL with the
channel's access token, Twilio ``MediaUrl0`` with basic auth, Evolution API's
``getBase64FromMediaMessage`` or the stored file's URL, Z-API's media URL), enforcing the size
and type limits of ``limits.py`` while it reads. ``understand.py`` turns the bytes into text
the agent can read: one multimodal Gemini call on Vertex AI (a voice note transcribed, an image
or video described, a PDF read); offline, documents are extracted locally and audio, images and
video are marked not understood. ``inbound.py`` wires both to a lead's message, and ``turn.py``
is what a turn says when the media was not understood (ask the lead to write; the second time,
hand off). (``speech.py`` is the other direction: voice replies, text-to-speech, at send time.)

Media is never stored: not in Firestore, not on disk, not in Cloud Storage. The bytes live in
memory for the length of one understanding; what is kept is the derived text (on the message
document's ``understanding`` and in the conversation window) and the provider's own reference
to the media (the message's ``content``), which expires on the provider's side.
"""
