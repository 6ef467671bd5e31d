"""An opt-in read by a turn ends the opt-out, its acknowledgement included."""

from __future__ import annotations

from shared.models.conversation import Contact
from shared.store.conversations import contact_ref
from tests.support.events import LEAD_PHONE
from tests.unit.followups import NOW, World


def contact(world: World) -> Contact:
    return Contact.model_validate(
        contact_ref(world.client, world.tenant, LEAD_PHONE).get().to_dict()
    )


def test_an_opt_in_clears_the_opt_out_and_its_acknowledgement() -> None:
    world = World()
    world.answered("pare de mandar mensagem")
    # the sender marks the contact when the acknowledgement goes out
    contact_ref(world.client, world.tenant, LEAD_PHONE).update({"opt_out_acknowledged_at": NOW})
    assert contact(world).opted_out

    result = world.answered("VOLTAR")

    assert result.decision is not None and "opt_in" in result.decision.reasons
    after = contact(world)
    assert (after.opted_out, after.opted_out_at, after.opt_out_acknowledged_at) == (
        False,
        None,
        None,
    )


def test_a_second_opt_out_in_the_same_burst_keeps_the_first_acknowledgement() -> None:
    world = World()
    world.answered("pare de mandar mensagem")
    contact_ref(world.client, world.tenant, LEAD_PHONE).update({"opt_out_acknowledged_at": NOW})

    world.lead("VOLTAR")
    world.answered("pare")  # back out before any turn read the opt-in: the same opt-out

    after = contact(world)
    assert (after.opted_out, after.opt_out_acknowledged_at) == (True, NOW)
