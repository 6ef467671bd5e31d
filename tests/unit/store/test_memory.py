"""The in-process store merges like Firestore: maps deeply, increments added to what is there."""

from __future__ import annotations

from google.cloud import firestore

from shared.store.memory import MemoryFirestore


def test_a_merge_set_merges_maps_deeply_and_adds_increments() -> None:
    document = MemoryFirestore().collection("tenants").document("t").collection("d").document("x")
    document.set({"sell": {"offered": 2, "note": "a"}, "kept": True})

    document.set({"sell": {"offered": firestore.Increment(3), "ignored": firestore.Increment(1)}},
                 merge=True)  # fmt: skip
    batch = document._client.batch()
    batch.set(document, {"sell": {"similarity_sum": firestore.Increment(0.5)}}, merge=True)
    batch.commit()

    assert document.get().to_dict() == {
        "sell": {"offered": 5, "note": "a", "ignored": 1, "similarity_sum": 0.5},
        "kept": True,
    }


def test_a_plain_set_still_replaces_the_document() -> None:
    document = MemoryFirestore().collection("c").document("x")
    document.set({"a": {"b": 1}, "c": 2})
    document.set({"a": {"d": 3}})
    assert document.get().to_dict() == {"a": {"d": 3}}
